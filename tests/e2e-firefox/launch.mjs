// A headless Firefox ESR driven over classic WebDriver (selenium-webdriver
// and geckodriver): the Firefox end-to-end tests and bench/webdriver.mjs.
import { statSync } from 'node:fs';
import { Builder } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';

const GECKODRIVER = process.env.GECKODRIVER
  || [`${process.env.HOME}/.cargo/bin/geckodriver`, '/usr/local/bin/geckodriver', '/usr/bin/geckodriver']
    .find((p) => { try { return statSync(p).isFile(); } catch { return false; } });
const FIREFOX = process.env.FIREFOX || '/usr/bin/firefox-esr';

/** A fresh headless Firefox, with nothing that would reach for the network. */
export function launchFirefox() {
  const options = new firefox.Options().setBinary(FIREFOX).addArguments('-headless');
  // No updates, telemetry or captive-portal checks: this machine reaches no network.
  for (const [k, v] of Object.entries({
    'app.update.enabled': false,
    'network.captive-portal-service.enabled': false,
    'network.connectivity-service.enabled': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'toolkit.telemetry.enabled': false,
  })) options.setPreference(k, v);
  return new Builder()
    .forBrowser('firefox')
    .setFirefoxOptions(options)
    .setFirefoxService(new firefox.ServiceBuilder(GECKODRIVER))
    .build();
}

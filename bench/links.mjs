// The emulated paths of the benchmark (link-emu's arguments), shared by
// bench/run.mjs (--scenarios) and bench/webdriver.mjs (--link).
export const PATHS = {
  // A home uplink: 20 Mbit/s up, 100 down, 60 ms round trip.
  home: ['--rtt-ms', '60', '--jitter-ms', '4', '--up-link-mbit', '20', '--down-link-mbit', '100'],
  // A far region: 150 ms round trip, a 1 Gbit/s link, 4 MiB in flight per connection (at most ~28 MB/s each).
  far: ['--rtt-ms', '150', '--jitter-ms', '4', '--up-link-mbit', '1000', '--down-link-mbit', '1000', '--window-kib', '4096'],
  // The same with TCP's slow start: a new connection's window opens from 16
  // KiB (about Linux's 10 segments), doubling each round trip, and starts
  // over after 400 ms idle (Linux's slow start after idle, past its RTO).
  'far-tcp': ['--rtt-ms', '150', '--jitter-ms', '4', '--up-link-mbit', '1000', '--down-link-mbit', '1000', '--window-kib', '4096',
    '--initial-window-kib', '16', '--idle-restart-ms', '400'],
};

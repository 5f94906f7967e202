// This client against a backend without the batched part-urls call (the
// page answers it 404, as an older backend would): each part is signed by a
// call of its own. Beside `ours`, an A/B of batched signing alone. The
// upload functions are ours' (fetch is looked up when a call is made).
import '../ours/entry.js';

const fetch0 = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = typeof input === 'string' ? input : input.url;
  if (url.endsWith('/part-urls')) return Promise.resolve(new Response('{"error":{"code":"NotFound","message":"no such route"}}', { status: 404 }));
  return fetch0(input, init);
};

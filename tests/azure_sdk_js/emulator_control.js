// The Key Vault emulator's control API (tests/fakes/README.md) from the JS test:
// the ready line run_sdk_test.py passes in EMULATOR_READY, and JSON over HTTPS to
// /control/... (trusted through NODE_EXTRA_CA_CERTS, like the vaults).
"use strict";

const https = require("node:https");

const ready = JSON.parse(process.env.EMULATOR_READY);

// The base URL of host `name` ("kv1", "hsm1", "entra", "imds").
function url(name) {
  return ready.hosts[name].url;
}

// POSTs `body` to /control/{path} (GET when body is undefined); resolves with
// the JSON answer, rejects with the emulator's message on any other status.
function control(path, body) {
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const request = https.request(new URL(`/control/${path}`, ready.control), {
      method: data === undefined ? "GET" : "POST",
      headers: data === undefined ? {} : { "Content-Type": "application/json",
                                           "Content-Length": Buffer.byteLength(data) },
    }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (text += chunk));
      response.on("end", () => {
        if (response.statusCode === 200) resolve(JSON.parse(text));
        else reject(new Error(`control ${path}: ${response.statusCode} ${text}`));
      });
    });
    request.on("error", reject);
    request.end(data);
  });
}

// The vault/HSM responses the emulator sent for paths containing `fragment`,
// oldest first: [{host, method, path, status, operation, request_id}].
async function responsesFor(fragment) {
  const { requests } = await control("requests");
  return requests.filter((r) => r.path.includes(fragment));
}

module.exports = { ready, url, control, responsesFor };

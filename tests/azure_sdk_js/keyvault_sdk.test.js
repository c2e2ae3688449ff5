// The Azure SDK for JavaScript, unmodified, against the Key Vault emulator: a
// client nobody here wrote. Run by run_sdk_test.py (ctest azure_sdk_js), which
// installs the pinned packages and starts the emulator.
//
// The only options the SDK is given are those any local endpoint needs: the
// Entra authority host (with instance discovery off: it would ask the public
// cloud), no challenge-resource check (the vault is not on *.vault.azure.net),
// trust through NODE_EXTRA_CA_CERTS and, for managed identity,
// AZURE_POD_IDENTITY_AUTHORITY_HOST. The api-version is the SDK's default.
"use strict";

const { after, afterEach, before, describe, it } = require("node:test");
const assert = require("node:assert/strict");
const nodeCrypto = require("node:crypto");
const fs = require("node:fs");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const { CryptographyClient, KeyClient } = require("@azure/keyvault-keys");
const {
  ClientCertificateCredential, ClientSecretCredential, ManagedIdentityCredential,
  WorkloadIdentityCredential,
} = require("@azure/identity");
const { url, control, responsesFor } = require("./emulator_control.js");

const TENANT = "11111111-2222-3333-4444-555555555555";
const IDENTITY_OPTIONS = { authorityHost: url("entra"), disableInstanceDiscovery: true };
const CLIENT_OPTIONS = { disableChallengeResourceVerification: true };
const STATE_DIR = process.env.TEST_STATE_DIR;

let serial = 0;
function unique(prefix) {
  serial += 1;
  return `${prefix}-${process.pid}-${serial}`;
}

// A fresh key on `host`; resolves with its name.
async function newKey(host, kty, size) {
  const name = unique("k");
  await control("create-key", { host, name, kty, size });
  return name;
}

// A principal with a client secret and every operation on `hosts`.
async function secretPrincipal(hosts = ["kv1", "hsm1"]) {
  const clientId = nodeCrypto.randomUUID();
  const secret = `s3cret~${nodeCrypto.randomBytes(12).toString("base64url")}`;
  await control("register-principal", { client_id: clientId, client_secret: secret, hosts });
  return { clientId, credential: new ClientSecretCredential(TENANT, clientId, secret,
                                                            IDENTITY_OPTIONS) };
}

// Asserts that `promise` rejects with the RestError Key Vault's answer makes:
// HTTP status, error.code and, when given, error.innererror.code.
async function assertRestError(promise, statusCode, code, innerCode) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.name, "RestError", `${error.name}: ${error.message}`);
    assert.equal(error.statusCode, statusCode);
    assert.equal(error.code, code);
    if (innerCode !== undefined) assert.equal(error.details?.error?.innerError?.code, innerCode);
    return true;
  });
}

// The versioned key id the emulator should give `name` on `host`.
function kidPattern(host, name) {
  return new RegExp(`^${url(host).replace(/[.]/g, "\\.")}/keys/${name}/[0-9a-f]{32}$`);
}

describe("credentials", () => {
  it("client secret (ClientSecretCredential)", async () => {
    const { credential } = await secretPrincipal(["kv1"]);
    const name = await newKey("kv1", "RSA", 2048);
    const key = await new KeyClient(url("kv1"), credential, CLIENT_OPTIONS).getKey(name);
    assert.equal(key.name, name);
    assert.equal(key.keyType, "RSA");
    assert.match(key.id, kidPattern("kv1", name));
  });

  it("client certificate (ClientCertificateCredential, signed assertion)", async () => {
    const clientId = nodeCrypto.randomUUID();
    const keyFile = path.join(STATE_DIR, `${clientId}.key`);
    const certFile = path.join(STATE_DIR, `${clientId}.crt`);
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                             "-subj", `/CN=${clientId}`, "-keyout", keyFile, "-out", certFile],
                 { stdio: "ignore" });
    const certificate = fs.readFileSync(certFile, "utf8");
    const bundle = path.join(STATE_DIR, `${clientId}.pem`);
    fs.writeFileSync(bundle, fs.readFileSync(keyFile, "utf8") + certificate);
    await control("register-principal", { client_id: clientId, certificate_pem: certificate,
                                          hosts: ["kv1"] });
    const credential = new ClientCertificateCredential(TENANT, clientId,
                                                       { certificatePath: bundle },
                                                       IDENTITY_OPTIONS);
    const name = await newKey("kv1", "RSA", 2048);
    const key = await new KeyClient(url("kv1"), credential, CLIENT_OPTIONS).getKey(name);
    assert.equal(key.name, name);
  });

  it("workload identity (WorkloadIdentityCredential, federated token file)", async () => {
    const clientId = nodeCrypto.randomUUID();
    const federated = `eyJ.projected-sa-token.${nodeCrypto.randomBytes(16).toString("hex")}`;
    const tokenFile = path.join(STATE_DIR, `${clientId}.token`);
    fs.writeFileSync(tokenFile, federated);
    await control("register-principal", { client_id: clientId, federated_token: federated,
                                          hosts: ["kv1"] });
    const credential = new WorkloadIdentityCredential({
      tenantId: TENANT, clientId, tokenFilePath: tokenFile, ...IDENTITY_OPTIONS });
    const name = await newKey("kv1", "RSA", 2048);
    const key = await new KeyClient(url("kv1"), credential, CLIENT_OPTIONS).getKey(name);
    assert.equal(key.name, name);
  });

  it("managed identity (ManagedIdentityCredential through IMDS)", async () => {
    assert.equal(process.env.AZURE_POD_IDENTITY_AUTHORITY_HOST, url("imds"));
    const clientId = nodeCrypto.randomUUID();
    await control("register-principal", { client_id: clientId, managed_identity: true,
                                          hosts: ["hsm1"] });
    const before = (await control("counts")).imds?.imds ?? 0;
    const credential = new ManagedIdentityCredential({ clientId });
    const name = await newKey("hsm1", "oct-HSM", 256);
    const key = await new KeyClient(url("hsm1"), credential, CLIENT_OPTIONS).getKey(name);
    assert.equal(key.keyType, "oct-HSM");
    assert.ok((await control("counts")).imds.imds > before, "the token came from the IMDS");
  });
});

describe("operations", () => {
  let credential;
  let vault;
  before(async () => {
    ({ credential } = await secretPrincipal());
    vault = new KeyClient(url("kv1"), credential, CLIENT_OPTIONS);
  });

  it("getKey, rotateKey and listPropertiesOfKeyVersions (following nextLink)", async () => {
    const name = await newKey("kv1", "RSA", 2048);
    const first = await vault.getKey(name);
    assert.equal(first.properties.enabled, true);
    assert.ok(first.keyOperations.includes("wrapKey") && first.keyOperations.includes("unwrapKey"));
    assert.equal(Buffer.from(first.key.n).length, 256);
    const second = await vault.rotateKey(name);
    const third = await vault.rotateKey(name);
    assert.notEqual(second.properties.version, first.properties.version);
    assert.equal((await vault.getKey(name)).properties.version, third.properties.version);
    assert.equal((await vault.getKey(name, { version: first.properties.version })).id, first.id);

    const expected = [first, second, third].map((k) => k.properties.version).sort();
    const listed = [];
    for await (const properties of vault.listPropertiesOfKeyVersions(name)) {
      listed.push(properties.version);
    }
    assert.deepEqual(listed.sort(), expected);
    const pages = [];
    for await (const page of vault.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: 1 })) {
      pages.push(page.map((p) => p.version));
    }
    assert.deepEqual(pages.map((p) => p.length), [1, 1, 1], "three pages through nextLink");
    assert.deepEqual(pages.flat().sort(), expected);
  });

  it("RSA-OAEP-256 wrapKey/unwrapKey and encrypt/decrypt (CryptographyClient)", async () => {
    const name = await newKey("kv1", "RSA", 2048);
    const key = await vault.getKey(name);
    const client = new CryptographyClient(key, credential, CLIENT_OPTIONS);   // follows kid
    await control("clear-requests", {});
    const dek = nodeCrypto.randomBytes(32);
    const wrapped = await client.wrapKey("RSA-OAEP-256", dek);
    assert.equal(wrapped.keyID, key.id);
    assert.equal(wrapped.result.length, 256);
    assert.deepEqual(Buffer.from((await client.unwrapKey("RSA-OAEP-256", wrapped.result)).result),
                     dek);
    const secret = Buffer.from("customer-managed key, remote RSA-OAEP-256");
    const encrypted = await client.encrypt({ algorithm: "RSA-OAEP-256", plaintext: secret });
    const decrypted = await client.decrypt({ algorithm: "RSA-OAEP-256",
                                             ciphertext: encrypted.result });
    assert.deepEqual(Buffer.from(decrypted.result), secret);
    const operations = (await responsesFor(`/keys/${name}`)).map((r) => `${r.operation} ${r.status}`);
    for (const op of ["wrapkey", "unwrapkey", "encrypt", "decrypt"]) {
      assert.ok(operations.includes(`${op} 200`), `${op} went to the vault: ${operations}`);
    }

    // What Node's own OAEP-SHA-256 (MGF1-SHA-256) wraps under the public key the SDK
    // returned, the vault unwraps: the service's RSA-OAEP-256 is the standard one.
    const publicKey = nodeCrypto.createPublicKey({
      key: { kty: "RSA", n: Buffer.from(key.key.n).toString("base64url"),
             e: Buffer.from(key.key.e).toString("base64url") }, format: "jwk" });
    const local = nodeCrypto.publicEncrypt(
      { key: publicKey, padding: nodeCrypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      dek);
    assert.deepEqual(Buffer.from((await client.unwrapKey("RSA-OAEP-256", local)).result), dek);
  });

  it("A256GCM encrypt/decrypt with additionalAuthenticatedData on the Managed HSM", async () => {
    const name = await newKey("hsm1", "oct-HSM", 256);
    const client = new KeyClient(url("hsm1"), credential, CLIENT_OPTIONS)
      .getCryptographyClient(name);
    const plaintext = nodeCrypto.randomBytes(32);
    const aad = Buffer.from("tenant=acme;topic=orders");
    const sealed = await client.encrypt({ algorithm: "A256GCM", plaintext,
                                          additionalAuthenticatedData: aad });
    assert.match(sealed.keyID, kidPattern("hsm1", name));
    assert.equal(sealed.iv.length, 12, "the HSM made the IV");
    assert.equal(sealed.authenticationTag.length, 16);
    assert.equal(sealed.result.length, plaintext.length);
    const opened = await client.decrypt({ algorithm: "A256GCM", ciphertext: sealed.result,
                                          iv: sealed.iv, authenticationTag: sealed.authenticationTag,
                                          additionalAuthenticatedData: aad });
    assert.deepEqual(Buffer.from(opened.result), plaintext);
    await assertRestError(
      client.decrypt({ algorithm: "A256GCM", ciphertext: sealed.result, iv: sealed.iv,
                       authenticationTag: sealed.authenticationTag,
                       additionalAuthenticatedData: Buffer.from("tenant=other") }),
      400, "BadParameter");
  });

  it("A256CBCPAD encrypt/decrypt with the caller's IV on the Managed HSM", async () => {
    const name = await newKey("hsm1", "oct-HSM", 256);
    const client = new KeyClient(url("hsm1"), credential, CLIENT_OPTIONS)
      .getCryptographyClient(name);
    const plaintext = Buffer.from("not a whole number of AES blocks");
    // Managed HSM wants the client's IV for CBC (Azure/azure-sdk-for-net#16175), and
    // this SDK version sends none of its own for a remote key: the caller gives it.
    const iv = nodeCrypto.randomBytes(16);
    const sealed = await client.encrypt({ algorithm: "A256CBCPAD", plaintext, iv });
    assert.deepEqual(Buffer.from(sealed.iv), iv);
    assert.equal(sealed.result.length, 48);
    const opened = await client.decrypt({ algorithm: "A256CBCPAD", ciphertext: sealed.result,
                                          iv: sealed.iv });
    assert.deepEqual(Buffer.from(opened.result), plaintext);
  });
});

describe("throttling and server errors are retried by the SDK", () => {
  let credential;
  let vault;
  let name;
  before(async () => {
    ({ credential } = await secretPrincipal(["kv1"]));
    vault = new KeyClient(url("kv1"), credential, CLIENT_OPTIONS);
    name = await newKey("kv1", "RSA", 2048);
    await vault.getKey(name);   // a token in hand: the faults meet the real requests
  });
  after(() => control("clear-faults", {}));

  it("429 with Retry-After is waited out", async () => {
    await control("clear-requests", {});
    await control("fault", { host: "kv1", status: 429, retry_after: 1, count: 1,
                             path_contains: `/keys/${name}` });
    const started = Date.now();
    const key = await vault.getKey(name);
    assert.equal(key.name, name);
    assert.ok(Date.now() - started >= 1000, `Retry-After honoured (${Date.now() - started} ms)`);
    assert.deepEqual((await responsesFor(`/keys/${name}`)).map((r) => r.status), [429, 200]);
  });

  it("503 on unwrapKey is retried", async () => {
    const client = vault.getCryptographyClient(name);
    const wrapped = await client.wrapKey("RSA-OAEP-256", Buffer.alloc(32, 1));
    await control("clear-requests", {});
    await control("fault", { host: "kv1", status: 503, count: 1, path_contains: "unwrapkey" });
    const unwrapped = await client.unwrapKey("RSA-OAEP-256", wrapped.result);
    assert.deepEqual(Buffer.from(unwrapped.result), Buffer.alloc(32, 1));
    assert.deepEqual((await responsesFor("unwrapkey")).map((r) => r.status), [503, 200]);
  });
});

describe("revocation gives the errors Key Vault gives", () => {
  let clientId;
  let vault;
  let hsm;
  let name;
  let aesName;
  before(async () => {
    let credential;
    ({ clientId, credential } = await secretPrincipal());
    vault = new KeyClient(url("kv1"), credential, CLIENT_OPTIONS);
    hsm = new KeyClient(url("hsm1"), credential, CLIENT_OPTIONS);
    name = await newKey("kv1", "RSA", 2048);
    aesName = await newKey("hsm1", "oct-HSM", 256);
  });
  // Each test starts from full access through RBAC, the firewall open.
  afterEach(async () => {
    await control("set-host", { host: "kv1", permission_model: "rbac", firewall_deny: false });
    await control("grant", { host: "kv1", client_id: clientId });
    await control("grant", { host: "hsm1", client_id: clientId });
    await control("clear-faults", {});
  });

  it("RBAC role removed: 403 Forbidden / ForbiddenByRbac, and back when restored", async () => {
    await control("revoke", { host: "kv1", client_id: clientId });
    await assertRestError(vault.getKey(name), 403, "Forbidden", "ForbiddenByRbac");
    await control("grant", { host: "kv1", client_id: clientId });
    assert.equal((await vault.getKey(name)).name, name);
  });

  it("access policy removed: 403 Forbidden / ForbiddenByPolicy", async () => {
    await control("set-host", { host: "kv1", permission_model: "access_policy" });
    await control("revoke", { host: "kv1", client_id: clientId, operations: ["unwrapkey"] });
    const client = vault.getCryptographyClient(name);
    const wrapped = await client.wrapKey("RSA-OAEP-256", Buffer.alloc(32, 2));
    await assert.rejects(client.unwrapKey("RSA-OAEP-256", wrapped.result), (error) => {
      assert.equal(error.statusCode, 403);
      assert.equal(error.code, "Forbidden");
      assert.equal(error.details.error.innerError.code, "ForbiddenByPolicy");
      assert.match(error.message, /does not have keys unwrapKey permission on key vault 'kv1;/);
      return true;
    });
  });

  it("firewall: 403 Forbidden / ForbiddenByFirewall", async () => {
    await control("set-host", { host: "kv1", firewall_deny: true });
    await assertRestError(vault.getKey(name), 403, "Forbidden", "ForbiddenByFirewall");
    await control("set-host", { host: "kv1", firewall_deny: false });
    await control("fault", { host: "kv1", status: 403, forbidden: "firewall", count: 1 });
    await assertRestError(vault.getKey(name), 403, "Forbidden", "ForbiddenByFirewall");
    assert.equal((await vault.getKey(name)).name, name, "a 403 is not retried, nor sticky");
  });

  it("Managed HSM role removed: 403 AccessDenied", async () => {
    const client = hsm.getCryptographyClient(aesName);
    await control("revoke", { host: "hsm1", client_id: clientId });
    await assertRestError(
      client.encrypt({ algorithm: "A256GCM", plaintext: Buffer.alloc(32) }), 403, "AccessDenied");
  });

  it("disabled key: wrapKey still works, unwrapKey is 403 Forbidden / KeyDisabled", async () => {
    const disabled = await newKey("kv1", "RSA", 2048);
    await control("set-attributes", { host: "kv1", name: disabled, enabled: false });
    const client = vault.getCryptographyClient(disabled);
    assert.equal((await vault.getKey(disabled)).properties.enabled, false);
    // As observed of the real service (keyvault-protocol.md §7.2): a client must
    // check `enabled` itself before wrapping.
    const wrapped = await client.wrapKey("RSA-OAEP-256", Buffer.alloc(32, 3));
    await assertRestError(client.unwrapKey("RSA-OAEP-256", wrapped.result), 403, "Forbidden",
                          "KeyDisabled");
  });
});

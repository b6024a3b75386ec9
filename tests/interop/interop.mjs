// HPKE interop: Keygate (keys/hpke.c, driven through hpke-tool) against
// @hpke/core + @hpke/chacha20poly1305, RFC 9180 base mode,
// DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / {AES-128-GCM, AES-256-GCM,
// ChaCha20-Poly1305}.
//
// For each AEAD it checks, in both directions:
//   - DeriveKeyPair gives the same key pair from the same ikm;
//   - @hpke/core seals, Keygate opens (and both export the same secrets);
//   - Keygate seals, @hpke/core opens;
//   - a tampered ciphertext, aad, info or enc fails to open on either side.
//
// Usage: node interop.mjs /path/to/hpke-tool
// Exit status 0 only when every check passed.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

import {
  Aes128Gcm,
  Aes256Gcm,
  CipherSuite,
  DhkemX25519HkdfSha256,
  HkdfSha256,
} from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";

const tool = process.argv[2];
if (!tool) {
  console.error("usage: node interop.mjs /path/to/hpke-tool");
  process.exit(2);
}

const AEADS = [
  { name: "aes-128-gcm", id: 0x0001, make: () => new Aes128Gcm() },
  { name: "aes-256-gcm", id: 0x0002, make: () => new Aes256Gcm() },
  { name: "chacha20-poly1305", id: 0x0003, make: () => new Chacha20Poly1305() },
];

// Plaintext lengths: empty, around the AES block size, and long (the hex
// argument must stay under Linux's 128 KiB limit for one argv string).
const PT_LENS = [0, 1, 15, 16, 17, 255, 1000, 60000];

const hex = (b) => Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const equal = (a, b) => hex(a) === hex(b);
const flip = (b, i) => {
  const c = new Uint8Array(b);
  c[i % c.length] ^= 0x01;
  return c;
};

// Runs hpke-tool; returns { ok, lines, stderr, status }.
function run(...args) {
  const r = spawnSync(tool, args, { encoding: "utf8", maxBuffer: 16 << 20 });
  if (r.error) throw r.error;
  return {
    ok: r.status === 0,
    status: r.status,
    lines: r.stdout.split("\n").filter((l) => l.length > 0),
    stderr: r.stderr.trim(),
  };
}

// Runs hpke-tool and insists that it succeeded.
function runOk(...args) {
  const r = run(...args);
  if (!r.ok) throw new Error(`hpke-tool ${args[0]} failed (${r.status}): ${r.stderr}`);
  return r.lines;
}

let passed = 0;
let failed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed++;
  } catch (e) {
    failed++;
    console.error(`FAIL ${name}: ${e && e.message ? e.message : e}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

// Expects @hpke/core to refuse to open; any OpenError-like rejection counts.
async function expectNodeOpenFails(suite, params, ct, aad) {
  let opened = false;
  try {
    const r = await suite.createRecipientContext(params);
    await r.open(ct, aad);
    opened = true;
  } catch (_e) {
    // expected
  }
  assert(!opened, "@hpke/core opened a tampered message");
}

function expectToolOpenFails(aead, sk, enc, info, aad, ct, code) {
  const r = run("open", aead, hex(sk), hex(enc), hex(info), hex(aad), hex(ct));
  assert(r.status === 1, `hpke-tool open exited ${r.status}, expected 1`);
  assert(r.stderr.includes(code), `hpke-tool open said "${r.stderr}", expected ${code}`);
}

for (const a of AEADS) {
  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: a.make(),
  });
  const counts = { before: passed };

  // DeriveKeyPair (RFC 9180 §7.1.3) agrees.
  await check(`${a.name} derive`, async () => {
    const ikm = randomBytes(32);
    const [sk, pk] = runOk("derive", hex(ikm));
    const kp = await suite.kem.deriveKeyPair(ikm);
    assert(hex(await suite.kem.serializePrivateKey(kp.privateKey)) === sk, "derived sk differs");
    assert(hex(await suite.kem.serializePublicKey(kp.publicKey)) === pk, "derived pk differs");
  });

  // @hpke/core seals, Keygate opens.
  const [skK, pkK] = runOk("keygen");
  const pkKey = await suite.kem.deserializePublicKey(unhex(pkK));
  for (const len of PT_LENS) {
    const info = len % 2 ? randomBytes(len % 64) : Buffer.from(`keygate interop ${a.name} ${len}`);
    const aad = len === 0 ? new Uint8Array(0) : randomBytes(1 + (len % 37));
    const pt = randomBytes(len);
    await check(`${a.name} node->keygate len=${len}`, async () => {
      const sender = await suite.createSenderContext({ recipientPublicKey: pkKey, info });
      const ct = new Uint8Array(await sender.seal(pt, aad));
      const enc = new Uint8Array(sender.enc);
      const [got = ""] = runOk("open", a.name, skK, hex(enc), hex(info), hex(aad), hex(ct));
      assert(got === hex(pt), "Keygate opened to a different plaintext");

      // Secret export (§5.3) agrees, for two context strings and lengths.
      for (const [ectx, L] of [[new Uint8Array(0), 32], [randomBytes(20), 77]]) {
        const want = hex(await sender.export(ectx, L));
        const [exp] = runOk("export", a.name, skK, hex(enc), hex(info), hex(ectx), String(L));
        assert(exp === want, `export L=${L} differs`);
      }

      // Tampering is caught by Keygate.
      const skB = unhex(skK);
      expectToolOpenFails(a.name, skB, enc, info, aad, flip(ct, len), "hpke_open_failed");
      expectToolOpenFails(a.name, skB, enc, info, flip(new Uint8Array([...aad, 0]), 0), ct, "hpke_open_failed");
      expectToolOpenFails(a.name, skB, enc, flip(new Uint8Array([...info, 0]), 0), aad, ct, "hpke_open_failed");
      expectToolOpenFails(a.name, skB, flip(enc, 7), info, aad, ct, "hpke_open_failed");
    });
  }

  // Keygate seals, @hpke/core opens.
  const rkp = await suite.kem.generateKeyPair();
  const pkN = hex(await suite.kem.serializePublicKey(rkp.publicKey));
  for (const len of PT_LENS) {
    const info = randomBytes(len % 50);
    const aad = randomBytes(len % 23);
    const pt = randomBytes(len);
    await check(`${a.name} keygate->node len=${len}`, async () => {
      const [encH, ctH] = runOk("seal", a.name, pkN, hex(info), hex(aad), hex(pt));
      const enc = unhex(encH);
      const ct = unhex(ctH);
      assert(enc.length === 32 && ct.length === len + 16, "unexpected enc/ct sizes");
      const recipient = await suite.createRecipientContext({ recipientKey: rkp, enc, info });
      const got = new Uint8Array(await recipient.open(ct, aad));
      assert(equal(got, pt), "@hpke/core opened to a different plaintext");

      // Tampering is caught by @hpke/core.
      await expectNodeOpenFails(suite, { recipientKey: rkp, enc, info }, flip(ct, len + 3), aad);
      await expectNodeOpenFails(suite, { recipientKey: rkp, enc, info }, ct, new Uint8Array([...aad, 1]));
      await expectNodeOpenFails(suite, { recipientKey: rkp, enc, info: new Uint8Array([...info, 1]) }, ct, aad);
      await expectNodeOpenFails(suite, { recipientKey: rkp, enc: flip(enc, 3), info }, ct, aad);
    });
  }

  console.log(`${a.name} (0x000${a.id}): ${passed - counts.before} checks passed`);
}

// An AEAD id neither side implements is refused by Keygate.
await check("unsupported aead", async () => {
  const [, pk] = runOk("keygen");
  const r = run("seal", "0xffff", pk, "", "", "00");
  assert(r.status === 1 && r.stderr.includes("hpke_suite_unsupported"), `got ${r.status}: ${r.stderr}`);
});

console.log(`hpke interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);

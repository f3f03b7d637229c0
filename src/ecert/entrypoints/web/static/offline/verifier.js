// The offline verifier (issue 14 item 3; templates/offline.html): what the scanner reads (static/scan.js,
// camera or photo) or what is typed in is verified here, in the browser, with no request to the server:
//  - the QR token (layout: adapters/qr_token.py) and its Ed25519 signature, by WebCrypto, against the
//    cached JWKS (/.well-known/jwks.json);
//  - the serial against the cached signed status list (/.well-known/ecert-status-list; its format and
//    signature: adapters/status_list.py), refused when truncated or signed with an unknown key, and
//    "status unknown" (indeterminate) once past its next_update — never "valid";
//  - the usage window against today's date in China Standard Time.
// The verdict follows domain/status_list.py judge_offline, reason codes and words included (the words
// come from the page: the server's catalogue). The service worker (/offline/sw.js) keeps the page, this
// script, the decoder and the two data files, network first, so the page works offline once opened.

import { mountScanner } from "../scan.js";

const DATA = JSON.parse(document.getElementById("offline-data").textContent);
const root = document.querySelector("[data-offline]");
const $ = (sel) => document.querySelector(sel);
const msg = (name, params = {}) => fill(root.dataset[`msg${name.replace(/-(.)/g, (_, c) => c.toUpperCase()).replace(/^./, (c) => c.toUpperCase())}`] || name, params);
const fill = (template, params) => template.replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const DOMAIN_TAG = new TextEncoder().encode("ecert-qr-v1");
const EPOCH = Date.UTC(2000, 0, 1);
const DAY = 86400000;
const CST_MS = 8 * 3600000;
const MAX_TEXT = 600;

class Refused extends Error {
  constructor(code, detail) {
    super(detail || code);
    this.code = code;
  }
}

// ------------------------------------------------------------------------------------------ bytes

function b32decode(text) {
  let bits = 0;
  let value = 0;
  const out = [];
  for (const c of text) {
    const v = B32.indexOf(c);
    if (v < 0) throw new Refused("malformed");
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 0xff);
    }
  }
  if (bits >= 5 || (value & ((1 << bits) - 1)) !== 0) throw new Refused("malformed"); // non-canonical
  return new Uint8Array(out);
}

function b32encode(bytes) {
  let bits = 0;
  let value = 0;
  let out = "";
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += B32[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

function b64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new Refused("status_list_malformed");
  const bin = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const bigOf = (bytes) => bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
const concat = (a, b) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

// ----------------------------------------------------------------------------------------- the keys

async function importKeys(jwks) {
  const keys = new Map();
  for (const jwk of (jwks && jwks.keys) || []) {
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string") continue;
    try {
      const key = await crypto.subtle.importKey("jwk", { kty: "OKP", crv: "Ed25519", x: jwk.x }, { name: "Ed25519" }, false, ["verify"]);
      const raw = b64url(jwk.x);
      const kid = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", raw)).slice(0, 4));
      if (kid === jwk.kid) keys.set(kid, key); // a kid that is not its key's: left out (adapters/offline_kit.py)
    } catch {
      // not a usable key: left out
    }
  }
  return keys;
}

const verifyEd25519 = (key, sig, data) => crypto.subtle.verify({ name: "Ed25519" }, key, sig, data);

// ------------------------------------------------------------------------------------ the QR token

function extractToken(text) {
  let t = text.trim();
  if (t.length > MAX_TEXT) throw new Refused("malformed");
  const at = t.toUpperCase().lastIndexOf("/V/");
  if (at >= 0) t = t.slice(at + 3);
  return t.split("?")[0].split("#")[0].replace(/^\/+|\/+$/g, "").toUpperCase();
}

/** The token's claims, its signature verified; throws Refused(malformed | unknown_key | bad_signature). */
async function decodeToken(text, keys) {
  const token = extractToken(text);
  if (!token || !/^[A-Z2-7]+$/.test(token)) throw new Refused("malformed");
  const raw = b32decode(token);
  if (b32encode(raw) !== token) throw new Refused("malformed");
  if (raw.length < 5 || raw[0] !== 1) throw new Refused("malformed");
  const kid = hex(raw.slice(1, 5));
  let pos = 5;
  const serial = b32encode(raw.slice(pos, pos + 10));
  pos += 10;
  const [firstIdx, nDigits, width] = [raw[pos], raw[pos + 1], raw[pos + 2]];
  pos += 3;
  if (!(firstIdx < DATA.first_chars.length) || !(nDigits >= 1 && nDigits <= 30) || !(width >= 1 && width <= 13)) {
    throw new Refused("malformed");
  }
  const number = bigOf(raw.slice(pos, pos + width)).toString().padStart(nDigits, "0");
  pos += width;
  if (number.length !== nDigits) throw new Refused("malformed");
  const day = (i) => new Date(EPOCH + ((raw[i] << 8) | raw[i + 1]) * DAY).toISOString().slice(0, 10);
  if (raw.length < pos + 4 + 16 + 64) throw new Refused("malformed");
  const usageFrom = day(pos);
  const usageUntil = day(pos + 2);
  pos += 4 + 16;
  if (raw.length !== pos + 64) throw new Refused("malformed");
  const key = keys.get(kid);
  if (!key) throw new Refused("unknown_key");
  const ok = await verifyEd25519(key, raw.slice(pos), concat(DOMAIN_TAG, raw.slice(0, pos)));
  if (!ok) throw new Refused("bad_signature");
  return { serial, registrationNo: DATA.first_chars[firstIdx] + number, usageFrom, usageUntil, kid };
}

// ------------------------------------------------------------------------------- the status list

/** The verified list {kid, issuedAt, nextUpdate, bits, lookup(serial)}; throws Refused(status_list_*). */
async function readStatusList(text, keys) {
  const parts = text.trim().split(".");
  if (parts.length !== 3) throw new Refused("status_list_malformed", "not a compact JWS (truncated?)");
  let head;
  let payload;
  let sig;
  try {
    head = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(b64url(parts[0])));
    payload = b64url(parts[1]);
    sig = b64url(parts[2]);
  } catch {
    throw new Refused("status_list_malformed", "unreadable");
  }
  const issuedAt = Date.parse(head && head.issued_at);
  const nextUpdate = Date.parse(head && head.next_update);
  if (sig.length !== 64 || Number.isNaN(issuedAt) || Number.isNaN(nextUpdate)) throw new Refused("status_list_malformed");
  if (head.typ !== DATA.list_typ || head.alg !== "EdDSA" || "crit" in head) throw new Refused("status_list_malformed");
  const key = keys.get(head.kid);
  if (!key) throw new Refused("status_list_unknown_key");
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  if (!(await verifyEd25519(key, sig, signed))) throw new Refused("status_list_bad_signature");
  return { kid: head.kid, issuedAt, nextUpdate, ...decodeList(payload) };
}

/** The payload (adapters/status_list.py): header, status bits, Rice-coded gaps. Checked whole, once. */
function decodeList(p) {
  const bad = () => new Refused("status_list_malformed");
  if (p.length < 16 || String.fromCharCode(p[0], p[1], p[2], p[3]) !== "ECSL" || p[4] !== 1) throw bad();
  const bits = p[5];
  const k = p[6];
  const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const count = view.getUint32(8);
  const covered = view.getUint32(12);
  if (bits < 40 || bits > 80 || k >= bits || count > covered) throw bad();
  const statusStart = 16;
  const streamStart = statusStart + Math.ceil(count / 8);
  if (p.length < streamStart) throw bad();
  const total = (p.length - streamStart) * 8;
  let pos = 0;
  const bit = () => {
    if (pos >= total) throw bad();
    const b = (p[streamStart + (pos >> 3)] >> (7 - (pos & 7))) & 1;
    pos += 1;
    return b;
  };
  const prefixes = new Array(count);
  let prev = -1n;
  const kBig = BigInt(k);
  for (let i = 0; i < count; i++) {
    let q = 0n;
    while (bit() === 1) q += 1n;
    let r = 0n;
    for (let j = 0; j < k; j++) r = (r << 1n) | BigInt(bit());
    prev = prev + 1n + (q << kBig) + r;
    prefixes[i] = prev;
  }
  if (count && prev >= 1n << BigInt(bits)) throw bad();
  if (total - pos >= 8) throw bad();
  while (pos < total) if (bit() !== 0) throw bad();
  const revoked = (i) => (p[statusStart + (i >> 3)] >> (7 - (i & 7))) & 1;
  const shift = BigInt(80 - bits);
  const lookup = (serial) => {
    const target = bigOf(b32decode(serial)) >> shift;
    let lo = 0;
    let hi = count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (prefixes[mid] < target) lo = mid + 1;
      else hi = mid;
    }
    if (lo === count || prefixes[lo] !== target) return 0; // current
    return revoked(lo) ? 2 : 1; // revoked : superseded
  };
  return { bits, count, covered, lookup };
}

// ------------------------------------------------------------------------------------- the verdict

const cstDate = (ms) => new Date(ms + CST_MS).toISOString().slice(0, 10);
const cstMinute = (ms) => new Date(ms + CST_MS).toISOString().slice(0, 16).replace("T", " ");

/** domain/status_list.py judge_offline, with the token's failures as domain/verification.py token_failure. */
async function verifyText(text, data, now) {
  const checks = { qr_token: null, record: null, current: null, window: null };
  let claims;
  try {
    claims = await decodeToken(text, data.keys);
  } catch (err) {
    checks.qr_token = false;
    const code = err.code || "malformed";
    if (code === "bad_signature") return { status: "tampered", reasons: [["qr_bad_signature"]], checks };
    if (code === "unknown_key") return { status: "untrusted", reasons: [["qr_unknown_key"]], checks };
    return { status: "indeterminate", reasons: [["qr_malformed"]], checks };
  }
  checks.qr_token = true;
  const base = { claims, checks };
  if (data.problem) return { ...base, status: "indeterminate", reasons: [[data.problem]] };
  const list = data.list;
  const unchecked = ["offline_unchecked", { issued_at: cstMinute(list.issuedAt) }];
  if (now >= list.nextUpdate) {
    const dates = { issued_at: cstMinute(list.issuedAt), next_update: cstMinute(list.nextUpdate) };
    return { ...base, status: "indeterminate", reasons: [["status_list_stale", dates], unchecked] };
  }
  const flag = list.lookup(claims.serial);
  if (flag === 2) return { ...base, status: "revoked", reasons: [["revoked_listed"], unchecked], checks: { ...checks, current: false } };
  if (flag === 1) return { ...base, status: "superseded", reasons: [["superseded"], unchecked], checks: { ...checks, current: false } };
  const today = cstDate(now);
  if (today < claims.usageFrom) {
    return { ...base, status: "not_yet_valid", reasons: [["not_yet_valid", { since: claims.usageFrom }], unchecked], checks: { ...checks, current: true, window: false } };
  }
  if (today > claims.usageUntil) {
    return { ...base, status: "expired", reasons: [["expired", { until: claims.usageUntil }], unchecked], checks: { ...checks, current: true, window: false } };
  }
  return { ...base, status: "valid", reasons: [["valid"], unchecked], checks: { ...checks, current: true, window: true } };
}

// --------------------------------------------------------------------------------------- the page

function show(verdict) {
  const box = $("[data-offline-verdict]");
  box.hidden = false;
  box.className = `verdict status-${verdict.status}`;
  box.dataset.status = verdict.status;
  box.dataset.reasonCodes = verdict.reasons.map(([code]) => code).join(" ");
  $("[data-offline-word]").textContent = DATA.status[verdict.status] || verdict.status;
  const list = $("[data-offline-reasons]");
  list.replaceChildren(
    ...verdict.reasons.map(([code, params]) => {
      const li = document.createElement("li");
      li.textContent = fill(DATA.reasons[code] || code, params || {});
      return li;
    }),
  );
  $("[data-offline-note]").textContent = verdict.claims ? msg("offline-note") : "";
  const checklist = $("[data-offline-checklist]");
  checklist.replaceChildren(
    ...DATA.check_lines.map((line) => {
      const outcomes = line.checks.map((c) => verdict.checks[c] ?? null);
      const passed = outcomes.includes(false) ? false : outcomes.includes(null) ? null : true;
      const li = document.createElement("li");
      li.className = passed ? "check-passed" : passed === null ? "check-skipped" : "check-failed";
      const mark = document.createElement("span");
      mark.className = "mark";
      mark.setAttribute("aria-hidden", "true");
      mark.textContent = passed ? "✓" : passed === null ? "–" : "✗";
      const word = document.createElement("span");
      word.className = "check-word";
      word.textContent = msg(passed ? "passed" : passed === null ? "skipped" : "failed");
      li.append(mark, line.text, word);
      return li;
    }),
  );
  $("[data-offline-checks]").hidden = false;
  const cert = $("[data-offline-cert]");
  cert.hidden = !verdict.claims;
  if (verdict.claims) {
    $("[data-offline-regno]").textContent = verdict.claims.registrationNo;
    $("[data-offline-serial]").textContent = verdict.claims.serial;
    $("[data-offline-window]").textContent = `${verdict.claims.usageFrom} — ${verdict.claims.usageUntil}`;
  }
}

function age(ms) {
  const minutes = Math.max(0, Math.round(ms / 60000));
  if (minutes < 120) return msg("minutes", { n: minutes });
  const hours = Math.round(minutes / 60);
  return hours < 48 ? msg("hours", { n: hours }) : msg("days", { n: Math.round(hours / 24) });
}

function showAge(data, now) {
  const el = $("[data-offline-age]");
  if (data.problem) {
    el.textContent = data.problem === "status_list_missing" ? msg("data-none") : msg("data-bad") + (DATA.reasons[data.problem] || data.problem);
    el.dataset.level = "error";
    return;
  }
  const { issuedAt, nextUpdate } = data.list;
  const text = msg("data-age", { issued: cstMinute(issuedAt), age: age(now - issuedAt), next: cstMinute(nextUpdate) });
  el.textContent = now >= nextUpdate ? `${text} — ${msg("data-stale")}` : text;
  el.dataset.level = now >= nextUpdate ? "warn" : "ok";
  el.dataset.issuedAt = new Date(issuedAt).toISOString();
}

/** The keys and the list, from the network when there is one, else from the service worker's cache. */
async function loadData() {
  const get = async (url) => {
    const res = await fetch(url);
    if (!res.ok) throw new Refused("status_list_missing");
    return res.text();
  };
  let keys = new Map();
  try {
    keys = await importKeys(JSON.parse(await get(DATA.jwks_url)));
  } catch {
    return { keys, problem: "status_list_missing" };
  }
  let text;
  try {
    text = await get(DATA.list_url);
  } catch {
    return { keys, problem: "status_list_missing" };
  }
  try {
    return { keys, list: await readStatusList(text, keys) };
  } catch (err) {
    return { keys, problem: err.code || "status_list_malformed" };
  }
}

const ready = loadData();
ready.then((data) => {
  showAge(data, Date.now());
  root.dataset.offlineReady = data.problem ? "problem" : "ok";
});

async function check(text) {
  const data = await ready;
  const now = Date.now();
  showAge(data, now);
  show(await verifyText(text, data, now));
}

const scannerRoot = document.querySelector("[data-offline-scanner]");
if (scannerRoot) mountScanner(scannerRoot, { onOurs: (text) => check(text) });
$("[data-offline-form]").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("[data-offline-text]").value;
  if (text.trim()) check(text);
});

if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/offline/sw.js", { scope: "/offline/" }).catch(() => {
    // no service worker (a private window, an old browser): the page still works while online
  });
}

export { decodeList, importKeys, readStatusList, verifyText };

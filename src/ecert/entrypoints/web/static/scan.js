// The QR scanner: the rear camera (or a chosen photo) → the vendored zxing-wasm decoder → the
// certificate's verdict page on this site. No build step, no CDN: the decoder and its .wasm come
// from this site's /static (vendor/zxing-wasm, see its README).
//
// Markup (templates/scanner.html): an element with `data-scanner` holding
//   [data-scan-start] button, [data-scan-file] <input type=file>, [data-scan-view] with a <video>,
//   [data-scan-stop] button, [data-scan-status], [data-scan-text];
//   data-bases="URL URL…": the sites whose QR codes are ours (the verification base URL printed on
//   certificates); this page's own origin always is;
//   data-msg-<name>: the messages, already in the page's language (names listed below).
// Loading this module mounts every such element; `classify`, `decode` and `mountScanner` are exported
// for reuse (the offline verifier, static/offline/verifier.js, mounts its own with `onOurs`).

import { prepareZXingModule, readBarcodes } from "./vendor/zxing-wasm/es/reader/index.js";

const WASM_URL = new URL("./vendor/zxing-wasm/reader/zxing_reader.wasm", import.meta.url).href;
const TOKEN = /^[A-Z2-7]{16,600}$/i; // Base32 (adapters/qr_token.py)
const CAMERA_OPTIONS = { formats: ["QRCode"], maxNumberOfSymbols: 1, tryHarder: true };
const PHOTO_OPTIONS = { formats: ["QRCode"], maxNumberOfSymbols: 1, tryHarder: true, tryDownscale: true };
const FRAME_EDGE = 1280; // camera frames are decoded at most this wide or high
const PHOTO_EDGE = 4096;
const FRAME_PAUSE_MS = 120;
// data-msg-* names: scanning, stopped, opening, decoding, denied, nocamera, insecure, notfound,
// badimage, notecert, foreign, loadfailed.

let ready = null;

/** Load the decoder once, from this site (never the module's default CDN address). */
export function loadDecoder() {
  ready ??= prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path) },
    fireImmediately: true,
  }).catch((err) => {
    ready = null; // a later attempt may succeed (a network hiccup)
    throw err;
  });
  return ready;
}

/** The texts of the QR codes in an ImageData or an image Blob (PNG, JPEG…). */
export async function decode(input, options = PHOTO_OPTIONS) {
  await loadDecoder();
  const results = await readBarcodes(input, options);
  return results.filter((r) => r.isValid && r.text).map((r) => r.text);
}

/**
 * What a QR text is: {kind: "ours", path: "/V/<token>"} for a verification URL of one of `bases`;
 * {kind: "foreign"} for a verification-looking URL of another site (never opened by itself);
 * {kind: "other"} for anything else. Certificates print `<BASE>/V/<TOKEN>` in upper case, so the
 * comparison ignores case.
 */
export function classify(text, bases) {
  const t = text.trim();
  const at = t.toUpperCase().lastIndexOf("/V/");
  if (at < 0) return { kind: "other" };
  const token = t.slice(at + 3);
  if (!TOKEN.test(token)) return { kind: "other" };
  const prefix = t.slice(0, at).toUpperCase();
  const ours = bases.some((b) => b.trim().replace(/\/+$/, "").toUpperCase() === prefix);
  return ours ? { kind: "ours", path: `/V/${token}` } : { kind: "foreign" };
}

function scaled(source, width, height, edge) {
  const k = Math.min(1, edge / Math.max(width, height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(width * k));
  canvas.height = Math.max(1, Math.round(height * k));
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
  return ctx.getImageData(0, 0, canvas.width, canvas.height);
}

/** The texts of the QR codes in a photo: decoded by the browser (any format it reads, EXIF
 * orientation applied), else by the decoder itself. Throws Error("badimage") if neither reads it. */
async function decodePhoto(file) {
  await loadDecoder(); // its failure is not the photo's
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    bitmap = null;
  }
  if (bitmap) {
    try {
      return await decode(scaled(bitmap, bitmap.width, bitmap.height, PHOTO_EDGE), PHOTO_OPTIONS);
    } finally {
      bitmap.close();
    }
  }
  try {
    return await decode(file, PHOTO_OPTIONS);
  } catch {
    throw new Error("badimage");
  }
}

function cameraProblem(err) {
  const name = err && err.name;
  if (name === "NotAllowedError" || name === "SecurityError") return "denied";
  return "nocamera"; // NotFoundError, NotReadableError (in use), OverconstrainedError, AbortError…
}

/** Wire one `data-scanner` element. Returns {stop} (stops the camera). With `onOurs`, a QR code of
 * ours is handed to it (its text) instead of opening this site's verdict page. */
export function mountScanner(root, { onOurs = null } = {}) {
  const $ = (sel) => root.querySelector(sel);
  const start = $("[data-scan-start]");
  const stopButton = $("[data-scan-stop]");
  const file = $("[data-scan-file]");
  const view = $("[data-scan-view]");
  const video = view.querySelector("video");
  const status = $("[data-scan-status]");
  const shown = $("[data-scan-text]");
  const bases = [location.origin, ...(root.dataset.bases || "").split(/\s+/).filter(Boolean)];
  let stream = null;
  let session = 0; // bumps when the camera stops, so a decode in flight is dropped

  const say = (name, level = "info", text = "") => {
    status.textContent = root.dataset[`msg${name[0].toUpperCase()}${name.slice(1)}`] || name;
    status.dataset.level = level;
    status.dataset.msg = name;
    shown.textContent = text;
    shown.hidden = !text;
  };

  const stop = () => {
    session += 1;
    if (stream) for (const track of stream.getTracks()) track.stop();
    stream = null;
    video.srcObject = null;
    view.hidden = true;
    start.disabled = false;
  };

  // What was read decides: ours → this site's verdict page; otherwise say so, open nothing.
  const handle = (texts) => {
    if (!texts.length) return false;
    const text = texts[0];
    const what = classify(text, bases);
    if (what.kind === "ours" && onOurs) {
      say("opening", "ok");
      onOurs(text); // the page shows the verdict itself (static/offline/verifier.js)
    } else if (what.kind === "ours") {
      say("opening", "ok");
      location.assign(what.path);
    } else if (what.kind === "foreign") {
      say("foreign", "warn", text);
    } else {
      say("notecert", "warn", text);
    }
    return true;
  };

  const scanFrames = async (mine) => {
    while (mine === session) {
      if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth) {
        const frame = scaled(video, video.videoWidth, video.videoHeight, FRAME_EDGE);
        const texts = await decode(frame, CAMERA_OPTIONS);
        if (mine !== session) return;
        if (texts.length) {
          stop(); // one read is enough: the camera goes off before anything else happens
          handle(texts);
          return;
        }
      }
      await new Promise((resolve) => setTimeout(resolve, FRAME_PAUSE_MS));
    }
  };

  start.addEventListener("click", async () => {
    if (!window.isSecureContext) return say("insecure", "error");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return say("nocamera", "error");
    stop();
    const mine = session;
    start.disabled = true;
    say("scanning");
    const decoder = loadDecoder(); // fetched while the browser asks for the camera
    decoder.catch(() => {}); // awaited below; no unhandled rejection meanwhile
    try {
      const s = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
      if (mine !== session) {
        for (const track of s.getTracks()) track.stop();
        return;
      }
      stream = s;
      video.srcObject = s;
      view.hidden = false;
      await video.play();
    } catch (err) {
      if (mine !== session) return;
      stop();
      return say(cameraProblem(err), "error");
    }
    try {
      await decoder;
      await scanFrames(mine);
    } catch {
      if (mine !== session) return;
      stop();
      say("loadfailed", "error");
    }
  });

  stopButton.addEventListener("click", () => {
    stop();
    say("stopped");
  });

  file.addEventListener("change", async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    stop();
    say("decoding");
    try {
      const texts = await decodePhoto(chosen);
      if (!handle(texts)) say("notfound", "warn");
    } catch (err) {
      say(err.message === "badimage" ? "badimage" : "loadfailed", "error");
    } finally {
      file.value = ""; // choosing the same photo again fires change again
    }
  });

  // Leaving the page (or hiding it) turns the camera off.
  window.addEventListener("pagehide", stop);
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    status.textContent = ""; // back from the verdict page: no stale "opening…"
    delete status.dataset.msg;
    shown.hidden = true;
  });
  document.addEventListener("visibilitychange", () => {
    if (document.hidden && stream) {
      stop();
      say("stopped");
    }
  });
  return { stop };
}

for (const root of document.querySelectorAll("[data-scanner]")) mountScanner(root);

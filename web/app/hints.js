// On-device hints for a photo just taken, computed in the browser on a small copy (about 320
// pixels wide) of the picture, so the official learns at once what the gateway would say: too
// dark, blurred, the sheet not filling the frame, a QR code of another acta. The thresholds are
// those of docs/app.md; the gateway's own legibility check (docs/imaging.md) still decides.

export const LIMITS = { dark: 70, blur: 60, fill: 0.35 };

// Measures |img| (anything drawImage takes, |w| x |h|): mean luma (0-255), focus (variance of
// the Laplacian of the luma) and the fraction of the frame that is bright paper.
export function measure(img, w, h) {
  const W = 320;
  const H = Math.max(1, Math.round((h * W) / w));
  const c = new OffscreenCanvas(W, H);
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(img, 0, 0, W, H);
  const d = g.getImageData(0, 0, W, H).data;
  const y = new Float32Array(W * H);
  let sum = 0;
  for (let i = 0; i < W * H; i++) {
    const v = 0.299 * d[4 * i] + 0.587 * d[4 * i + 1] + 0.114 * d[4 * i + 2];
    y[i] = v;
    sum += v;
  }
  const luma = sum / (W * H);
  // Paper: clearly brighter than the frame's mean and than a fixed floor.
  const paperLevel = Math.max(110, luma * 1.05);
  let paper = 0;
  let lap = 0;
  let lap2 = 0;
  let n = 0;
  for (let yy = 1; yy < H - 1; yy++) {
    for (let x = 1; x < W - 1; x++) {
      const i = yy * W + x;
      if (y[i] >= paperLevel) paper++;
      const l = 4 * y[i] - y[i - 1] - y[i + 1] - y[i - W] - y[i + W];
      lap += l;
      lap2 += l * l;
      n++;
    }
  }
  const mean = lap / n;
  return { luma, focus: lap2 / n - mean * mean, fill: paper / n };
}

// The hint names for measures |m| (and the QR clave |qr| read on the photo, if any, against the
// chosen |clave|): 'dark', 'blurry', 'small_sheet', 'qr_mismatch'.
export function hints(m, clave, qr) {
  const out = [];
  if (m.luma < LIMITS.dark) out.push('dark');
  else if (m.focus < LIMITS.blur) out.push('blurry');
  if (m.luma >= LIMITS.dark && m.fill < LIMITS.fill) out.push('small_sheet');
  if (qr && clave && qr !== clave) out.push('qr_mismatch');
  return out;
}

// The clave in a QR code on |img|, with the browser's BarcodeDetector where it has one (Android
// Chrome does; desktop Linux Chromium does not): null when there is none or no detector.
export async function readQr(img) {
  if (!('BarcodeDetector' in self)) return null;
  try {
    const det = new self.BarcodeDetector({ formats: ['qr_code'] });
    const codes = await det.detect(img);
    for (const c of codes) {
      const m = /([0-9]{6}[BCESV][0-9]{5,6})/.exec(c.rawValue || '');
      if (m) return m[1];
    }
  } catch (e) { /* no detector for QR on this device */ }
  return null;
}

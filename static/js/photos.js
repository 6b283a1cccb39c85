// Photos are made small on the phone before they are stored (DESIGN.md §5): a 4 MB camera
// photo becomes ~300 KB of outbox and of upload. Re-encoding through a canvas also drops the
// camera's metadata (GPS, serial number) before anything leaves the phone.

export const MAX_EDGE = 1600;
export const JPEG_QUALITY = 0.8;

export class PhotoUnreadable extends Error {
  constructor(name) {
    super(name);
    this.name = 'PhotoUnreadable';
  }
}

function canvasOf(width, height) {
  if (typeof OffscreenCanvas === 'function') return new OffscreenCanvas(width, height);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function encode(canvas) {
  if (canvas.convertToBlob) return canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
  return new Promise((resolve, reject) => {
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('encode'))), 'image/jpeg', JPEG_QUALITY);
  });
}

export async function sha256Hex(blob) {
  const digest = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The file as a JPEG whose long edge is at most MAX_EDGE, upright, with its SHA-256. */
export async function preparePhoto(file) {
  let full;
  try {
    full = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    throw new PhotoUnreadable(file.name);
  }
  const scale = Math.min(1, MAX_EDGE / Math.max(full.width, full.height));
  const width = Math.max(1, Math.round(full.width * scale));
  const height = Math.max(1, Math.round(full.height * scale));
  let bitmap = full;
  try {
    if (scale < 1) {
      bitmap = await createImageBitmap(full, {
        resizeWidth: width, resizeHeight: height, resizeQuality: 'high',
      });
      full.close(); // a 12 MP bitmap holds ~48 MB: let it go at once
    }
    const canvas = canvasOf(width, height);
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    const blob = await encode(canvas);
    return { blob, width, height, sha256: await sha256Hex(blob) };
  } finally {
    full.close();
    bitmap.close();
  }
}

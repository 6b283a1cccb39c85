// "Download unsent entries": a JSON file with every entry that has not fully reached the
// server, photos included, so nothing is lost when someone must sign out or hand the phone on.

import { unsentForExport } from './unsent.js';

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export async function buildExport(userId = null) {
  const items = await unsentForExport(userId);
  const entries = [];
  for (const { entry, photos } of items) {
    const exported = [];
    for (const { blob, ...photo } of photos) {
      exported.push({ ...photo, data_url: blob ? await dataUrl(blob) : null });
    }
    entries.push({ ...entry, photos: exported });
  }
  return { format: 'nhatky-coso/unsent-entries', version: 1, exported_at: new Date().toISOString(), entries };
}

/** Start the download of the user's unsent entries (everyone's when nobody is signed in on
 *  the phone); resolves to the number of entries in the file. */
export async function downloadUnsent(userId = null) {
  const data = await buildExport(userId);
  if (!data.entries.length) return 0;
  const blob = new Blob([JSON.stringify(data, null, 1)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  const stamp = data.exported_at.slice(0, 16).replace(/[-:T]/g, '');
  link.href = url;
  link.download = `nhatky-chua-gui-${stamp}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return data.entries.length;
}

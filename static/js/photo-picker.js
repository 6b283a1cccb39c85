// Photos for the entry being written: from the camera or the gallery, downscaled one at a
// time as soon as they are chosen (so Save is quick), with a preview and a remove button.
// A file the browser cannot decode is skipped and named.

import { t } from './i18n.js';
import { PhotoUnreadable, preparePhoto } from './photos.js';

const $ = (id) => document.getElementById(id);

export class PhotoPicker {
  constructor() {
    this.photos = []; // {id, name, blob, sha256, width, height, url}
    this.skipped = [];
    this.kept = 0; // photos an edited entry already has
    this.busy = 0;
    this.processing = Promise.resolve();
    for (const id of ['photo-camera', 'photo-gallery']) {
      $(id).addEventListener('change', (event) => this.add(event.target));
    }
  }

  /** Resolves once every chosen photo is ready (or skipped). */
  ready() {
    return this.processing;
  }

  add(input) {
    const files = Array.from(input.files ?? []);
    input.value = ''; // the same photo can be chosen again after removing it
    this.busy += files.length;
    this.status();
    // One at a time: a 12 MP decode holds ~48 MB; two at once can kill a cheap phone's tab.
    for (const file of files) this.processing = this.processing.then(() => this.prepare(file));
  }

  async prepare(file) {
    try {
      const prepared = await preparePhoto(file);
      const url = URL.createObjectURL(prepared.blob);
      this.photos.push({ ...prepared, id: crypto.randomUUID(), name: file.name, url });
    } catch (error) {
      if (!(error instanceof PhotoUnreadable)) console.error('photo', error);
      this.skipped.push(file.name || '?');
    } finally {
      this.busy -= 1;
      this.render();
    }
  }

  status() {
    const parts = [];
    if (this.busy) parts.push(t('photo_processing'));
    for (const name of this.skipped) parts.push(t('photo_skipped', { name }));
    if (this.kept) parts.push(t('photos_kept', { n: this.kept }));
    $('photo-status').textContent = parts.join(' ');
  }

  render() {
    $('photo-list').replaceChildren(...this.photos.map((photo) => {
      const item = document.createElement('li');
      const image = document.createElement('img');
      image.src = photo.url;
      image.alt = '';
      const name = document.createElement('span');
      name.textContent = photo.name;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.className = 'button icon';
      remove.textContent = '×';
      remove.setAttribute('aria-label', t('photo_remove', { name: photo.name }));
      remove.addEventListener('click', () => {
        URL.revokeObjectURL(photo.url);
        this.photos = this.photos.filter((p) => p !== photo);
        this.render();
      });
      item.append(image, name, remove);
      return item;
    }));
    this.status();
  }

  /** The photos as records for the phone's database, belonging to `entry`. */
  records(entry) {
    const now = Date.now();
    return this.photos.map((p, index) => ({
      id: p.id,
      activity_id: entry.id,
      user_id: entry.user_id,
      blob: p.blob,
      sha256: p.sha256,
      width: p.width,
      height: p.height,
      size: p.blob.size,
      name: p.name,
      added_at: now + index,
    }));
  }

  clear(kept = 0) {
    for (const photo of this.photos) URL.revokeObjectURL(photo.url);
    this.photos = [];
    this.skipped = [];
    this.kept = kept;
    this.render();
  }
}

// Controls a thumb can hit that are smaller than 44 × 44 CSS px (DESIGN.md §9), measured
// where the thumb lands: a checkbox by its label, a hidden file input by the label styled as
// its button. Run by tests/browser/test_accessibility.py through page.evaluate.
() => {
  const MIN = 44;
  const visible = (el) => el.getClientRects().length > 0
    && getComputedStyle(el).visibility !== 'hidden';
  const controls = document.querySelectorAll([
    'main a', 'main button', 'main select', 'main textarea', 'main input',
    'header a', 'header button', 'dialog[open] button',
  ].join(', '));
  const small = [];
  for (const el of controls) {
    if (el.type === 'hidden') continue;
    let target = el;
    if (el.type === 'checkbox') target = el.closest('label');
    if (el.classList.contains('file-input')) target = document.querySelector(`label[for="${el.id}"]`);
    if (!target || !visible(target)) continue;
    const box = target.getBoundingClientRect();
    if (box.height < MIN || box.width < MIN) {
      const name = target.textContent.trim().slice(0, 30);
      small.push(`${target.tagName.toLowerCase()}#${target.id} "${name}" ${Math.round(box.width)}×${Math.round(box.height)}`);
    }
  }
  return small;
}

// Diacritic-insensitive matching, the same folding as webapp/text.py: "nguyen van" finds
// "Nguyễn Văn An". đ is its own letter, not d plus a mark, so it is mapped by hand.

export function fold(text) {
  return (text || '')
    .replace(/[đĐ]/g, 'd')
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

/** Every word of the query appears in the folded text (in any order). */
export function matches(foldedText, query) {
  const words = fold(query).split(' ').filter(Boolean);
  return words.every((word) => foldedText.includes(word));
}

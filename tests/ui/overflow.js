// What is cut off horizontally inside `root`, in words (see overflow.py).
root => {
  const problems = [];
  const box = root.getBoundingClientRect();
  const ctx = document.createElement('canvas').getContext('2d');
  const describe = el => {
    const label = el.getAttribute('aria-label');
    const cls =
      typeof el.className === 'string' && el.className
        ? '.' + el.className.trim().split(/\s+/).join('.')
        : '';
    const text = (el.value || el.textContent || el.placeholder || '').trim().slice(0, 40);
    const id = el.id ? `#${el.id}` : '';
    return `<${el.tagName.toLowerCase()}${id}${cls}>` + (label ? ` [${label}]` : '') +
      (text ? ` "${text}"` : '');
  };
  const textControl = el =>
    el.tagName === 'SELECT' ||
    (el.tagName === 'INPUT' && !['password', 'checkbox', 'radio', 'hidden'].includes(el.type));
  for (const el of [root, ...root.querySelectorAll('*')]) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') {
      continue;
    }
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) {
      continue;
    }
    if (el !== root && (r.right > box.right + 1 || r.left < box.left - 1)) {
      problems.push(
        `${describe(el)} sticks out: ${Math.round(r.left)}..${Math.round(r.right)} ` +
          `outside ${Math.round(box.left)}..${Math.round(box.right)}`
      );
      continue;
    }
    if (el.tagName !== 'CANVAS' && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`${describe(el)} cuts its content: ${el.scrollWidth} wide in ${el.clientWidth}`);
      continue;
    }
    if (textControl(el)) {
      const text =
        el.tagName === 'SELECT'
          ? (el.selectedOptions[0]?.textContent ?? '')
          : el.value || el.placeholder || '';
      ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
      const width = ctx.measureText(text).width;
      const room = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      if (width > room + 1) {
        problems.push(
          `${describe(el)} cuts its text "${text}": ${Math.ceil(width)} wide in ${Math.floor(room)}`
        );
      }
    }
  }
  return problems;
}

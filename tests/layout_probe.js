// Appended to each chapter page by tests/test_book.py before headless Chromium renders it.
// Once MathJax has typeset the page, it writes what it measured into a pre#layout-probe,
// which --dump-dom carries out: tables and display equations whose visible part runs past the
// text column (a box that scrolls clips them, and that is fine), and the padding of table cells.
window.addEventListener("load", () => {
  const startup = window.MathJax && MathJax.startup;
  const typeset = (startup && startup.promise) || Promise.resolve();
  typeset.then(() => {
    const col = document.querySelector("article.bd-article");
    const edge = col.getBoundingClientRect().right - parseFloat(getComputedStyle(col).paddingRight);
    const visibleRight = (el) => {  // clipped by every box between it and the column
      let right = el.getBoundingClientRect().right;
      for (let a = el.parentElement; a && a !== col; a = a.parentElement) {
        if (getComputedStyle(a).overflowX !== "visible") {
          right = Math.min(right, a.getBoundingClientRect().right);
        }
      }
      return right;
    };
    const wide = [...col.querySelectorAll("table, mjx-container[display='true']")]
      .filter((el) => visibleRight(el) > edge + 1)
      .map((el) => el.tagName + " " + el.textContent.trim().slice(0, 40));
    const pads = [...col.querySelectorAll("div.output table td")]
      .map((td) => getComputedStyle(td))
      .map((st) => parseFloat(st.paddingLeft) + parseFloat(st.paddingRight));
    const out = document.createElement("pre");
    out.id = "layout-probe";
    const minPadding = Math.min(...pads, 99);
    out.textContent = JSON.stringify({wide: wide, cells: pads.length, min_padding: minPadding});
    document.body.appendChild(out);
  });
});

/* The book's small page scripts (Jupyter Book adds every .js file in _static to every page). */
(() => {
  "use strict";
  const ready = (fn) =>
    document.readyState !== "loading" ? fn() : document.addEventListener("DOMContentLoaded", fn);

  /* The sidebar button at desktop widths, where the sidebar is shown beside the text:
     it collapses and restores the sidebar (the theme's own handler opens the narrow-screen
     dialog, which is what a phone needs; it stays in charge below 960 px). */
  const WIDE = window.matchMedia("(min-width: 960px)");
  document.addEventListener(
    "click",
    (event) => {
      const button = event.target.closest && event.target.closest(".primary-toggle");
      if (!button || !WIDE.matches) return;
      event.preventDefault();
      event.stopPropagation();
      const collapsed = document.body.classList.toggle("rbm-sidebar-collapsed");
      button.setAttribute("aria-expanded", String(!collapsed));
    },
    true,
  );

  /* Figures: a tap opens the full-size image (on a phone, a wide figure is shrunk to the
     width of the screen). */
  ready(() => {
    document.querySelectorAll(".bd-article .cell_output img, .bd-article figure img").forEach((img) => {
      if (img.closest("a")) return;
      const link = document.createElement("a");
      link.href = img.currentSrc || img.src;
      link.className = "rbm-figure-link";
      link.title = "Open the figure at full size";
      img.replaceWith(link);
      link.appendChild(img);
    });
  });

  /* Display equations wider than their column scroll sideways; mark those that do, so that
     the stylesheet can show a cue at the edge that hides more of the formula. */
  const markSides = (box, scroller) => {
    const wide = scroller.scrollWidth > scroller.clientWidth + 1;
    const atEnd = scroller.scrollLeft + scroller.clientWidth >= scroller.scrollWidth - 1;
    box.classList.toggle("rbm-scrolls", wide);
    box.classList.toggle("rbm-scrolled", wide && scroller.scrollLeft > 1);
    box.classList.toggle("rbm-scrolled-to-end", wide && atEnd);
  };
  const markScrollers = () => {
    document.querySelectorAll(".bd-article div.math").forEach((box) => {
      const scroller = box.querySelector(":scope > mjx-container");
      if (!scroller) return;
      markSides(box, scroller);
      if (!scroller.dataset.rbmWatched) {
        scroller.dataset.rbmWatched = "1";
        scroller.addEventListener("scroll", () => markSides(box, scroller), { passive: true });
      }
    });
  };
  const afterMath = () => {
    const mj = window.MathJax;
    const done = mj && mj.startup && mj.startup.promise ? mj.startup.promise : Promise.resolve();
    done.then(markScrollers);
  };
  window.addEventListener("load", afterMath);
  window.addEventListener("resize", () => {
    clearTimeout(markScrollers.timer);
    markScrollers.timer = setTimeout(markScrollers, 200);
  });

  /* Search results: the text around a match without equations' TeX or code. Sphinx's
     searchtools.js may load after this file; it fetches the result pages after the
     document has loaded, so patching it then is early enough. */
  ready(() => {
    if (typeof Search === "undefined" || !Search.htmlToText || Search.rbmPatched) return;
    const original = Search.htmlToText;
    Search.htmlToText = (htmlString, anchor) => {
      const doc = new DOMParser().parseFromString(htmlString, "text/html");
      doc
        .querySelectorAll(".math, div.cell_input, div.highlight, pre, .cell_output, .eqno")
        .forEach((el) => el.replaceWith(" … "));
      return original(doc.documentElement.outerHTML, anchor);
    };
    Search.rbmPatched = true;
  });
})();

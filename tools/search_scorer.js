// The site search's scorer (`html_search_scorer` in _config.yml; Sphinx inlines it into
// language_data.js, which only the search page loads). It keeps Sphinx's default weights
// and adds one rule: a page whose own title contains the whole query, as a phrase, comes
// first. Without it, every page with any query word in any of its titles scores the same,
// and ties are broken alphabetically, so "11. Samplers..." outranks "3. The marginal and
// the free energy" for the query "free energy".
var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename] = result;
    const query = (new URLSearchParams(window.location.search).get("q") || "")
      .toLowerCase()
      .replace(/\s+/g, " ")
      .trim();
    if (query.length < 3) return score;
    const pageTitle = title.split(" > ")[0].toLowerCase();
    if (!anchor && pageTitle.includes(query)) return score + 20;
    if (title.toLowerCase().includes(query)) return score + 5;
    return score;
  },

  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: {
    0: 15,
    1: 5,
    2: -5,
  },
  objPrioDefault: 0,

  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};

// MathJax, served by the site itself. It typesets Markdown math (arithmatex
// spans) and the Markdown cells of executed examples, which write inline math
// as $...$. Material's usual `ignoreHtmlClass: ".*|"` would skip the
// class-less paragraphs inside notebook cells, so nothing is ignored here but
// code (skipHtmlTags); a literal dollar sign is written \$.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: "tex2jax_ignore",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown",
  },
};

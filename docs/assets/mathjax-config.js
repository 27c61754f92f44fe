// MathJax, served by the site itself. It typesets Markdown math (arithmatex)
// and the Markdown cells of executed examples (jp-RenderedMarkdown), which
// write inline math as $...$.
window.MathJax = {
  tex: {
    inlineMath: [["\\(", "\\)"], ["$", "$"]],
    displayMath: [["\\[", "\\]"], ["$$", "$$"]],
    processEscapes: true,
    processEnvironments: true,
  },
  options: {
    ignoreHtmlClass: ".*|",
    processHtmlClass: "arithmatex|jp-RenderedMarkdown",
  },
};

// Typeset TeX formulas with MathJax 3 (TeX input, base + ams packages only, SVG output).
// stdin: JSON [{"tex": "...", "display": true}, ...]; stdout: JSON [{"index": i, "error": "..."}]
// for every formula MathJax rejects. Unknown macros are errors (no "noundefined" package).
const {mathjax} = require('mathjax-full/js/mathjax.js');
const {TeX} = require('mathjax-full/js/input/tex.js');
const {SVG} = require('mathjax-full/js/output/svg.js');
const {liteAdaptor} = require('mathjax-full/js/adaptors/liteAdaptor.js');
const {RegisterHTMLHandler} = require('mathjax-full/js/handlers/html.js');
require('mathjax-full/js/input/tex/base/BaseConfiguration.js');
require('mathjax-full/js/input/tex/ams/AmsConfiguration.js');

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const tex = new TeX({packages: ['base', 'ams'], formatError: (jax, err) => { throw err; }});
const doc = mathjax.document('', {InputJax: tex, OutputJax: new SVG({fontCache: 'none'})});

let input = '';
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const failures = [];
  JSON.parse(input).forEach((item, index) => {
    try {
      const node = doc.convert(item.tex, {display: !!item.display});
      const html = adaptor.outerHTML(node);
      if (html.includes('data-mjx-error') || html.includes('merror')) {
        failures.push({index, error: 'rendered as an error'});
      }
    } catch (err) {
      failures.push({index, error: String(err.message || err)});
    }
  });
  process.stdout.write(JSON.stringify(failures));
});

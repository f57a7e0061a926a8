// The page's stylesheet and script, served by its routes as static files (the CSP allows only 'self'). The page
// works without the script: it only asks before an erasure and stops a second submit of the same form.

// Colours: text #1b1b1b (17:1 on white), muted #4a4a4a (8.9:1), the tenant colour (forced to ≥ 4.5:1 under white
// text), errors #a1001f (8.3:1). Buttons, fields and the language links are at least 44px high, radios 24px
// (WCAG 2.2 2.5.8 asks 24px); focus is a 3px outline that never disappears.
export const STYLE_CSS = `*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;font-size:1rem;line-height:1.55;color:#1b1b1b;background:#fff}
.skip{position:absolute;left:.5rem;top:-4rem;background:#fff;color:#1b1b1b;padding:.75rem 1rem;border:2px solid #1b1b1b;z-index:10}
.skip:focus{top:.5rem}
.top{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem 1rem;padding:.75rem max(1rem,calc((100% - 52rem)/2));border-top:.5rem solid var(--brand);border-bottom:1px solid #d0d0d0}
.org{margin:0;font-weight:700;font-size:1.15rem;color:var(--brand)}
.langs{display:flex;gap:.25rem;list-style:none;margin:0;padding:0}
.langs a{display:inline-flex;align-items:center;min-height:44px;min-width:44px;padding:0 .75rem;color:#1b1b1b;border-radius:4px}
.langs a[aria-current]{font-weight:700;text-decoration:none;background:#f0f0f0}
main{max-width:52rem;margin:0 auto;padding:1rem 1rem 3rem}
main:focus{outline:none}
h1{font-size:1.8rem;line-height:1.25;margin:1rem 0 .5rem}
h2{font-size:1.4rem;margin:2.5rem 0 .5rem;padding-bottom:.25rem;border-bottom:2px solid var(--brand)}
h3{font-size:1.15rem;margin:1.5rem 0 .25rem}
h4{font-size:1rem;margin:1rem 0 .25rem}
.lead{font-size:1.1rem}
a{color:var(--brand);text-underline-offset:.15em}
:focus-visible{outline:3px solid #1b1b1b;outline-offset:2px;box-shadow:0 0 0 5px #fff}
.flash{margin:1rem 0}
.flash p{margin:0;padding:.75rem 1rem;border-left:.4rem solid var(--brand);background:#f4f6f9}
.flash-error p{border-left-color:#a1001f;background:#fdf2f4;color:#1b1b1b}
.flash.empty{margin:0}
.purpose{border:1px solid #c4c4c4;border-radius:6px;padding:.25rem 1rem 1rem;margin:1rem 0}
dl{margin:.5rem 0}
dl div{display:flex;flex-wrap:wrap;gap:0 .5rem}
dt{font-weight:600}
dt::after{content:":"}
dd{margin:0}
.state-granted{font-weight:700}
.note,.hint{color:#4a4a4a;font-size:.95rem}
.hint{display:block}
.object{border:3px solid #1b1b1b;border-radius:6px;padding:0 1rem 1rem;margin-top:2.5rem}
.object h2{border-bottom-color:#1b1b1b}
.done{font-weight:600}
.done::before{content:"✓ "}
.choices{list-style:none;padding:0}
.choices li{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.5rem;padding:.5rem 0;border-bottom:1px solid #e0e0e0}
.objection{border-top:1px solid #e0e0e0;padding-top:.25rem}
form{margin:.5rem 0}
form.inline{display:inline-block;margin-right:.5rem}
button{font:inherit;font-weight:600;min-height:44px;min-width:44px;padding:.5rem 1.1rem;border:2px solid var(--brand);border-radius:6px;background:var(--brand);color:#fff;cursor:pointer}
button:hover{text-decoration:underline}
button[aria-disabled="true"]{opacity:.75;cursor:progress}
button.danger{background:#a1001f;border-color:#a1001f}
fieldset{border:1px solid #c4c4c4;border-radius:6px;margin:.5rem 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.option{display:grid;grid-template-columns:auto 1fr;gap:0 .6rem;align-items:start;padding:.4rem 0}
.option input{width:24px;height:24px;margin:.1rem 0 0;accent-color:var(--brand)}
.option label{font-weight:600}
.option .hint{grid-column:2}
.field label{display:block;font-weight:600}
input[type=text],input:not([type]),textarea,select{font:inherit;width:100%;max-width:36rem;min-height:44px;padding:.5rem;border:2px solid #5c5c5c;border-radius:4px;color:#1b1b1b;background:#fff}
input[name=code]{max-width:10rem;letter-spacing:.2em}
select{width:auto;min-width:16rem}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{text-align:left;padding:.5rem;border-bottom:1px solid #c4c4c4;vertical-align:top}
.export{border-top:1px solid #e0e0e0}
footer{max-width:52rem;margin:0 auto;padding:1rem;color:#4a4a4a;font-size:.9rem;border-top:1px solid #d0d0d0}
.vh{position:absolute!important;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
@media (prefers-reduced-motion:no-preference){html{scroll-behavior:smooth}}
`;

export const APP_JS = `'use strict';
// Progressive enhancement only: every form works without this file.
document.addEventListener('submit', function (event) {
  var form = event.target;
  if (!form || form.tagName !== 'FORM') return;
  // A second click while the first submit is on its way would record the choice twice.
  if (form.getAttribute('data-sent') === '1') {
    event.preventDefault();
    return;
  }
  var question = form.getAttribute('data-confirm');
  if (question && !window.confirm(question)) {
    event.preventDefault();
    return;
  }
  form.setAttribute('data-sent', '1');
  var buttons = form.querySelectorAll('button[type="submit"]');
  for (var i = 0; i < buttons.length; i++) buttons[i].setAttribute('aria-disabled', 'true');
  // A download does not leave the page: the form works again after a moment.
  window.setTimeout(function () {
    form.removeAttribute('data-sent');
    for (var j = 0; j < buttons.length; j++) buttons[j].removeAttribute('aria-disabled');
  }, 5000);
});
`;

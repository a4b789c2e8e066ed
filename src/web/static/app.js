// Harpoon web UI: progressive enhancement only; every page works without it.
// Loaded as an external file (the CSP forbids inline script). Never puts server or email text
// into innerHTML: text goes through textContent; HTML fragments come from our own pages.
"use strict";

// Shared by the portal's pages: read a page's settings from its JSON script element.
"use strict";
window.portal = {
  config: function (id) {
    var node = document.getElementById(id || "page-config");
    return node ? JSON.parse(node.textContent) : {};
  }
};

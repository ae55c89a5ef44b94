// A filter box above each long table (class "filterable"): hides rows that do not contain
// the typed text. Pages are complete without it; nothing else runs.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("table.filterable").forEach(function (table) {
    var body = table.tBodies[0];
    if (!body || body.rows.length < 10) return;
    var input = document.createElement("input");
    input.type = "search";
    input.placeholder = "Filter " + body.rows.length + " rows";
    input.className = "filter";
    input.setAttribute("aria-label", "Filter the table below");
    input.addEventListener("input", function () {
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(body.rows, function (row) {
        row.hidden = q !== "" && row.textContent.toLowerCase().indexOf(q) === -1;
      });
    });
    var wrap = table.parentNode.classList.contains("scroll") ? table.parentNode : table;
    wrap.parentNode.insertBefore(input, wrap);
  });
});

document.querySelectorAll("th[data-sort]").forEach(function (th, column) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0];
    var up = th.getAttribute("aria-sort") !== "ascending";
    var numeric = th.getAttribute("data-sort") === "number";
    var key = function (row) {
      var cell = row.cells[column];
      var raw = cell.hasAttribute("data-value") ? cell.getAttribute("data-value") : cell.textContent;
      return numeric ? parseFloat(raw) : raw.toLowerCase();
    };
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) { var x = key(a), y = key(b); return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); });
    rows.forEach(function (row) { body.appendChild(row); });
    th.parentNode.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", up ? "ascending" : "descending");
  });
});

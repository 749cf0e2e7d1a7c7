// Sorts a table by the column whose header is clicked (again: the other way). Numbers sort by value
// (NULL first), text in the reader's collation.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("th").forEach(function (th) {
    th.tabIndex = 0;
    var sort = function () {
      var body = table.tBodies[0], index = th.cellIndex, numeric = th.classList.contains("num");
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var key = function (row) {
        var cell = row.cells[index];
        if (!numeric) return cell.textContent;
        var value = parseFloat(cell.getAttribute("data-v"));
        return isNaN(value) ? -Infinity : value;
      };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = numeric ? (x < y ? -1 : x > y ? 1 : 0) : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (event) { if (event.key === "Enter") sort(); });
  });
});

// Sort any table with class "sortable" by clicking a header cell (text order; ISO dates sort as text).
document.addEventListener("DOMContentLoaded", () => {
  for (const table of document.querySelectorAll("table.sortable")) {
    table.querySelectorAll("thead th").forEach((th, index) => {
      th.addEventListener("click", () => {
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        const up = th.dataset.order !== "asc";
        rows.sort((a, b) => {
          const x = a.cells[index]?.textContent ?? "";
          const y = b.cells[index]?.textContent ?? "";
          return up ? x.localeCompare(y, "zh") : y.localeCompare(x, "zh");
        });
        th.dataset.order = up ? "asc" : "desc";
        rows.forEach((row) => body.appendChild(row));
      });
    });
  }
});

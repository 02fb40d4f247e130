// Starts the NHS.UK frontend components (the bundle is an ES module copied from the npm package by the build).
import { initAll } from '/assets/nhsuk-frontend.min.js'

initAll()

// Small screens stack wide tables (app.css): label each cell with its column's heading.
for (const table of document.querySelectorAll('table.nhsuk-table:not(.nhsuk-table-responsive)')) {
  const headings = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim())
  for (const row of table.querySelectorAll('tbody tr')) {
    [...row.children].forEach((cell, index) => {
      if (cell.tagName === 'TD' && headings[index] && !cell.hasAttribute('data-label')) {
        cell.setAttribute('data-label', headings[index])
      }
    })
  }
}

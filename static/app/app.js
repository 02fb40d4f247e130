// Starts the NHS.UK frontend components (the bundle is an ES module copied from the npm package by the build).
import { initAll } from '/assets/nhsuk-frontend.min.js'

initAll()

// force timezone to UTC to allow tests to work regardless of local timezone
// generally used by snapshots, but can affect specific tests
process.env.TZ = 'UTC';

const base = require('./.config/jest.config');
const { grafanaESModules, nodeModulesToTransform } = require('./.config/jest/utils');

module.exports = {
  // Jest configuration provided by Grafana scaffolding
  ...base,
  // @grafana/data 13 pulls d3's ESM-only .mjs builds and a few more ESM packages.
  // @grafana/ui forms render slowly on a busy 2-core machine: a config-page
  // test took over 30 s there. The timeout only stops a hung test; no test
  // measures speed.
  testTimeout: 90000,
  transform: { ...base.transform, '^.+\\.mjs$': base.transform['^.+\\.(t|j)sx?$'] },
  transformIgnorePatterns: [nodeModulesToTransform([...grafanaESModules, 'd3-.*', 'internmap', 'ol', 'quickselect', 'rbush', 'earcut', 'pbf'])],
};

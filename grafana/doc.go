// Package grafana holds what pbenchd ships for Prometheus and Grafana, and
// the tests that keep it honest:
//
//   - dashboards/: the Grafana dashboards (overview, scenario drill-down,
//     health) as JSON, importable as they are;
//   - provisioning/: Grafana provisioning for a Prometheus datasource and a
//     file provider that loads the dashboards;
//   - alerts/: the Prometheus recording and alerting rules, their promtool
//     unit tests and the runbook (README.md) the alerts link to.
//
// The Go code only reads these files: Expressions lists every PromQL
// expression they contain, with Grafana's template variables replaced, so
// that tests can parse them here and evaluate them against a real
// Prometheus scraping a live pbenchd elsewhere.
package grafana

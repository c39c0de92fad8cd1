// Package grafana holds what pbenchd ships for Prometheus and Grafana, and
// the tests that keep it honest:
//
//   - dashboards/: the Grafana dashboards (overview, scenario drill-down,
//     health) as JSON, importable as they are;
//   - provisioning/: Grafana provisioning for a Prometheus datasource and a
//     file provider that loads the dashboards;
//   - alerts/: the Prometheus recording and alerting rules, their promtool
//     unit tests, the runbook (README.md) the alerts link to, and an
//     Alertmanager configuration (routing by scenario and action, inhibit
//     rules).
//
// The Go code only reads these files: Expressions lists every PromQL
// expression they contain, with Grafana's template variables replaced, so
// that tests can parse them here and evaluate them against a real
// Prometheus scraping a live pbenchd, and deliver alerts through a real
// Alertmanager, elsewhere. The tests read PromQL with promtool and a small
// selector scanner, not with Prometheus's Go module.
package grafana

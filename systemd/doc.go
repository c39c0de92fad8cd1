// Package systemd holds pbenchd's systemd unit (pbenchd.service) and its
// environment file (pbenchd.env), with tests that run systemd-analyze on
// the unit: it must verify without a warning and keep its sandbox exposure
// score low.
package systemd

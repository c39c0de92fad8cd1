package target

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Classify names the class of a failed call, for the `class` label of
// pbenchd_action_errors_total. Classes are a bounded set:
//
//   - sqlstate_XXXXX: the server answered with that SQLSTATE (a few hundred
//     codes exist);
//   - kafka_<error_name>: a Kafka broker answered with that error code, named
//     as Kafka names it, lower-cased (kafka_not_leader_for_partition…; about
//     a hundred and twenty codes exist);
//   - timeout: the call's deadline passed;
//   - canceled: pbenchd itself cancelled the call (stop signal, phase end);
//   - connect: no connection could be made;
//   - connection_lost: the connection broke during the call;
//   - other: anything else.
func Classify(err error) string {
	if err == nil {
		return ""
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if len(pgErr.Code) == 5 && pgErr.Code[:2] == "08" {
			return "sqlstate_class_08"
		}
		return "sqlstate_" + pgErr.Code
	}
	var kErr *kerr.Error
	if errors.As(err, &kErr) {
		return "kafka_" + strings.ToLower(kErr.Message)
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if errors.Is(err, context.DeadlineExceeded) {
			return "timeout"
		}
		return "connect"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case pgconn.Timeout(err):
		return "timeout"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed) {
		return "connection_lost"
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		return "connect"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "connection_lost"
	}
	if errors.Is(err, kgo.ErrRecordTimeout) {
		return "timeout"
	}
	if pgconn.SafeToRetry(err) {
		// pgx says nothing was sent: the connection was unusable.
		return "connection_lost"
	}
	return "other"
}

// RetryReason returns why a failed call may be retried ("deadlock",
// "serialization"), or "" when it must not be.
func RetryReason(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "40P01":
			return "deadlock"
		case "40001":
			return "serialization"
		}
	}
	return ""
}

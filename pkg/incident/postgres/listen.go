package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// OnOpened calls fn each time an ingest, by any replica, made or reopened
// an incident, until the returned stop is called. It keeps one connection
// of its own, LISTENing on OpenedChannel, and reconnects when it breaks
// (notifications sent meanwhile are lost: the worker's regular round
// catches those incidents up). Errors never carry the DSN's password.
func OnOpened(dsn string, fn func()) (stop func(), err error) {
	cc, _, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if cc.RuntimeParams == nil {
		cc.RuntimeParams = map[string]string{}
	}
	cc.RuntimeParams["application_name"] = "meshwatch-listen"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			listen(ctx, cc, fn)
			select {
			case <-ctx.Done():
			case <-time.After(2 * time.Second):
			}
		}
	}()
	return func() { cancel(); <-done }, nil
}

func listen(ctx context.Context, cc *pgx.ConnConfig, fn func()) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cc)
	cancel()
	if err != nil {
		return
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(c)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{OpenedChannel}.Sanitize()); err != nil {
		return
	}
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return
		}
		fn()
	}
}

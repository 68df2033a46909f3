package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// KeepPseudonyms gives number the pseudonyms earlier exports gave (a
// person's spelling, lower case, to their number) and keeps those it
// adds, so that a person is the same Person N in every export.
//
// number runs outside any write transaction (it reads a period's
// timelines, which would hold up processing); the numbers it adds are
// written in one transaction decided alone, as processing is, and only if
// no other export kept numbers meanwhile: else number runs again on what
// is there now, so that two exports never give one number to two people.
// The commit waits for the disk, as intake's does: an export already
// printed those numbers.
func (s *Store) KeepPseudonyms(ctx context.Context, number func(given map[string]int) (added map[string]int)) error {
	for range 5 {
		given, err := pseudonyms(ctx, s.read)
		if err != nil {
			return err
		}
		added := number(given)
		if len(added) == 0 {
			return nil
		}
		err = s.Update(ctx, func(tx *Tx) error {
			if s.pool != nil {
				if _, err := tx.tx.ExecContext(ctx, `SELECT set_config('synchronous_commit', 'on', true)`); err != nil {
					return err
				}
			}
			now, err := pseudonyms(ctx, tx)
			if err != nil {
				return err
			}
			if !maps.Equal(now, given) {
				return errPseudonymsMoved
			}
			return insertPseudonyms(ctx, tx, added)
		})
		if !errors.Is(err, errPseudonymsMoved) {
			return err
		}
	}
	return errors.New("keep pseudonyms: other exports kept numbers five times meanwhile")
}

var errPseudonymsMoved = errors.New("another export kept pseudonyms meanwhile")

func pseudonyms(ctx context.Context, q querier) (map[string]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT spelling, number FROM pseudonyms`)
	if err != nil {
		return nil, fmt.Errorf("pseudonyms: %w", err)
	}
	defer rows.Close()
	given := map[string]int{}
	for rows.Next() {
		var (
			spelling string
			n        int
		)
		if err := rows.Scan(&spelling, &n); err != nil {
			return nil, fmt.Errorf("pseudonyms: %w", err)
		}
		given[spelling] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pseudonyms: %w", err)
	}
	return given, nil
}

// insertPseudonyms writes added a chunk at a time, within both databases'
// limits on values.
func insertPseudonyms(ctx context.Context, tx *Tx, added map[string]int) error {
	for chunk := range slices.Chunk(slices.Sorted(maps.Keys(added)), maxRowsPerInsert) {
		var q strings.Builder
		args := make([]any, 0, 2*len(chunk))
		q.WriteString(`INSERT INTO pseudonyms (spelling, number) VALUES `)
		for i, spelling := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			fmt.Fprintf(&q, "($%d, $%d)", len(args)+1, len(args)+2)
			args = append(args, spelling, added[spelling])
		}
		if _, err := tx.tx.ExecContext(ctx, q.String(), args...); err != nil {
			return fmt.Errorf("keep %d pseudonyms: %w", len(chunk), err)
		}
	}
	return nil
}

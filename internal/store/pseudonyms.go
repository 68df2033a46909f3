package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// KeepPseudonyms gives number the pseudonyms earlier exports gave (a
// person's spelling, lower case, to their number) and keeps those it
// adds, so that a person is the same Person N in every export. It runs in
// one transaction decided alone, as processing is: two exports at once
// never give one number to two people.
func (s *Store) KeepPseudonyms(ctx context.Context, number func(given map[string]int) (added map[string]int)) error {
	return s.Update(ctx, func(tx *Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT spelling, number FROM pseudonyms`)
		if err != nil {
			return fmt.Errorf("pseudonyms: %w", err)
		}
		given := map[string]int{}
		for rows.Next() {
			var (
				spelling string
				n        int
			)
			if err := rows.Scan(&spelling, &n); err != nil {
				rows.Close()
				return fmt.Errorf("pseudonyms: %w", err)
			}
			given[spelling] = n
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("pseudonyms: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("pseudonyms: %w", err)
		}
		added := number(given)
		// A chunk at a time, within both databases' limits on values.
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
	})
}

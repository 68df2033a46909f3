// Package pipeline is the imperative shell around the router: it takes
// stored deliveries in arrival order, normalises them, loads the state the
// router asks for, and writes the decisions, a batch per transaction.
package pipeline

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/incidenthub/incidenthub/config"
	"github.com/incidenthub/incidenthub/internal/delivery"
	"github.com/incidenthub/incidenthub/internal/escape"
	"github.com/incidenthub/incidenthub/internal/incident"
	"github.com/incidenthub/incidenthub/internal/metrics"
	"github.com/incidenthub/incidenthub/internal/store"
	"github.com/incidenthub/incidenthub/router"
)

// Normalizer turns a stored delivery of one source into events.
type Normalizer interface {
	Source() incident.Source
	Normalize(d delivery.Delivery) ([]incident.Event, error)
}

// Store is what the processor needs of the database.
type Store interface {
	NextPending(ctx context.Context) (delivery.Delivery, bool, error)
	Process(ctx context.Context, seq int64, fn func(*store.Tx) (delivery.Outcome, error)) error
	ProcessBatch(ctx context.Context, limit int, fn func(*store.Tx, delivery.Delivery) (delivery.Outcome, error)) (int, error)
	RecordFailure(ctx context.Context, seq int64, reason string, maxAttempts int) (bool, error)
	Update(ctx context.Context, fn func(*store.Tx) error) error
	ExpireDeferred(ctx context.Context, receivedBefore time.Time) (int64, error)
}

const (
	// maxAttempts bounds retries of a delivery whose processing panics, or
	// writes what the database refuses as data (a bug either way), so that
	// one poisonous delivery cannot stall those behind it.
	// Other errors (the store unreachable, the disk full) are retried
	// without limit: skipping a delivery would break the order of its
	// incident's events.
	maxAttempts = 5
	// maxRetryDelay caps the backoff between retries of a failing store.
	maxRetryDelay = time.Minute
	// pollInterval catches deliveries stored by another process (a CLI
	// replay, another replica) that no wake-up signalled.
	pollInterval = 2 * time.Second
	// expireInterval is how often awareness records are checked for expiry.
	expireInterval = 30 * time.Second
)

// Processor applies stored deliveries to the records, one at a time in
// arrival order, which keeps the events of each PagerDuty incident in the
// order PagerDuty sent them.
type Processor struct {
	store       Store
	normalizers map[incident.Source]Normalizer
	rules       router.Rules
	log         *slog.Logger
	metrics     *metrics.Metrics
	now         func() time.Time
	retryDelay  time.Duration
	actions     Enqueuer
	lease       Lease
	// leading and leaseErr are what the log last said of the lease.
	leading, leaseErr bool
}

// Lease is the processing lease replicas take turns on (store.Lease).
type Lease interface {
	Held(ctx context.Context) (bool, error)
	Release()
}

// WithLease makes the processor process only while it holds the lease.
// Without one it always processes: one process owns the database.
func WithLease(l Lease) Option { return func(p *Processor) { p.lease = l } }

// Enqueuer inserts the job of an action in a processing transaction.
type Enqueuer interface {
	Enqueue(ctx context.Context, tx *sql.Tx, incidentID int64, a incident.Action) error
}

// Option configures a Processor.
type Option func(*Processor)

// WithActions sets the queue that runs the side effects decisions ask for.
// Without one, a decision with actions is an error, never silently dropped.
func WithActions(e Enqueuer) Option { return func(p *Processor) { p.actions = e } }

// WithClock replaces time.Now, for tests of time-driven rules.
func WithClock(now func() time.Time) Option { return func(p *Processor) { p.now = now } }

// NewProcessor returns a processor; Run drives it.
func NewProcessor(s Store, normalizers []Normalizer, rules router.Rules, log *slog.Logger, m *metrics.Metrics, opts ...Option) *Processor {
	byName := make(map[incident.Source]Normalizer, len(normalizers))
	for _, n := range normalizers {
		byName[n.Source()] = n
	}
	p := &Processor{
		store: s, normalizers: byName, rules: rules, metrics: m, now: time.Now,
		log: log.With("component", "processor"), retryDelay: time.Second,
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// RulesFrom builds the router's rules from the configuration.
func RulesFrom(c *config.Config) router.Rules {
	notes := c.PagerDuty.APIToken.Value() != "" && c.PagerDuty.FromEmail != ""
	r := router.Rules{
		MergeWindow:          c.Correlation.MergeWindow,
		ChangeLookback:       c.Correlation.ChangeLookback,
		AwarenessLabels:      slices.Clone(c.Awareness.Labels),
		AwarenessAutoResolve: c.Awareness.AutoResolveAfter,
		ReviewOpenAfter:      c.Review.OpenAfter,
		ReviewDueWithin:      c.Review.DueWithin,
		ReviewRepo:           c.GitHub.ReviewRepo,
		CommentOnChanges:     c.GitHub.CommentOnChanges,
		// Notes during an incident are for the responder paged now: asked
		// for only when notes can be written, rather than held for every
		// page until credentials come.
		TriageNotes:     c.PagerDuty.Notes.Triage && notes,
		LiveChangeNotes: c.PagerDuty.Notes.LiveChanges && notes,
		RolesNotes:      notes,
		// Long enough to fix a typo in a task-list item, short enough that
		// the ticket follows the review.
		TaskSettle: 2 * time.Minute,
	}
	for _, s := range c.Severities {
		r.Severities = append(r.Severities, router.Severity{
			Name: s.Name, Priorities: slices.Clone(s.PagerDutyPriorities), Urgency: s.Urgency,
			Review: s.Review, ReviewOpenAfter: s.ReviewOpenAfter,
			RolesExpected: slices.Clone(s.RolesExpected), RolesGrace: cmp.Or(s.RolesGrace, config.DefaultRolesGrace),
		})
	}
	for _, s := range c.Services {
		r.Services = append(r.Services, router.Service{
			Name:                s.Name,
			PagerDutyServiceIDs: slices.Clone(s.PagerDutyServiceIDs),
			GitHubRepos:         slices.Clone(s.GitHubRepos),
			DeployEnvironments:  slices.Clone(s.DeployEnvironments),
			DeployWorkflows:     slices.Clone(s.DeployWorkflows),
			ChangeEvents:        s.PagerDutyRoutingKey.Value() != "",
		})
		if s.JiraProject != "" {
			r.JiraProjects = append(r.JiraProjects, s.JiraProject)
		}
	}
	if p := c.Drills.JiraProject; p != "" {
		r.JiraProjects = append(r.JiraProjects, p)
	}
	return r
}

// Run processes deliveries until ctx is done. A delivery being processed
// when ctx ends is finished first; wake signals newly stored deliveries.
// Among replicas, only the one that holds the processing lease processes
// (and runs the timers), so that every delivery is decided in arrival
// order; the others take over when it goes.
func (p *Processor) Run(ctx context.Context, wake <-chan struct{}) {
	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()
	var lastExpiry time.Time
	delay := p.retryDelay
	for {
		if p.holdsLease(ctx) && p.now().Sub(lastExpiry) >= expireInterval {
			if err := p.expire(context.WithoutCancel(ctx)); err != nil {
				p.log.Error("expiring awareness records and deferred deliveries", "err", err)
			}
			lastExpiry = p.now()
		}
		for ctx.Err() == nil && p.holdsLease(ctx) {
			more, err := p.ProcessBatch(context.WithoutCancel(ctx))
			if err != nil {
				// A delivery of the batch failed: one at a time, a
				// poisonous delivery is isolated (bounded attempts) and a
				// store error retried with backoff.
				more, err = p.ProcessNext(context.WithoutCancel(ctx))
			}
			if err != nil {
				p.log.Error("processing failed; the delivery stays pending and is retried", "err", err, "retry_in", delay)
				sleep(ctx, delay)
				delay = min(2*delay, maxRetryDelay)
				continue
			}
			delay = p.retryDelay
			if !more {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-ticker.C:
		}
	}
}

// holdsLease reports whether this replica may process now, saying so in
// the log when that changes. An error (the database unreachable) counts
// as not holding it: the claim on each delivery keeps a replica that lost
// its lease unknowingly from processing anything twice.
func (p *Processor) holdsLease(ctx context.Context) bool {
	if p.lease == nil {
		return true
	}
	held, err := p.lease.Held(ctx)
	if err != nil && ctx.Err() == nil && !p.leaseErr {
		p.log.Warn("cannot take the processing lease; retrying", "err", err)
	}
	p.leaseErr = err != nil
	if held != p.leading {
		p.leading = held
		if held {
			p.log.Info("this replica holds the processing lease: it processes deliveries")
		} else {
			p.log.Info("another replica holds the processing lease: this one waits to take over")
		}
	}
	return held
}

// deferredFor is how long a delivery may wait for its page. PagerDuty
// retries for up to 48 hours; a page that has not arrived in 72 never will.
const deferredFor = 72 * time.Hour

// expire runs the hub's timers: awareness records and deferred deliveries.
func (p *Processor) expire(ctx context.Context) error {
	n, err := p.store.ExpireDeferred(ctx, p.now().Add(-deferredFor))
	if n > 0 {
		p.metrics.Deliveries.WithLabelValues(string(incident.SourcePagerDuty), string(delivery.StatusIgnored)).Add(float64(n))
		p.log.Warn("deferred deliveries whose page never arrived are now ignored", "count", n)
	}
	return errors.Join(err, p.ExpireAwareness(ctx))
}

// ExpireAwareness resolves awareness records that nothing paged on within
// awareness.auto_resolve_after.
func (p *Processor) ExpireAwareness(ctx context.Context) error {
	var expired []string
	err := p.store.Update(ctx, func(tx *store.Tx) error {
		expired = expired[:0]
		recs, err := tx.ActiveAwareness(ctx)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			dec := router.Expire(rec, p.rules, p.now())
			if dec == nil {
				continue
			}
			// Resolved when its time ran out, not when noticed: changes
			// attached since, while it looked open, come off.
			if err := p.syncChanges(ctx, tx, &rec, dec); err != nil {
				return err
			}
			if err := p.write(ctx, tx, *dec); err != nil {
				return err
			}
			expired = append(expired, rec.Ref())
		}
		return nil
	})
	for _, ref := range expired {
		p.log.Info("awareness record resolved by itself", "incident", ref)
	}
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ProcessNext processes the oldest pending delivery. It reports false when
// there was none.
func (p *Processor) ProcessNext(ctx context.Context) (bool, error) {
	d, ok, err := p.store.NextPending(ctx)
	if err != nil || !ok {
		return false, err
	}
	var res result
	err = p.store.Process(ctx, d.Seq, func(tx *store.Tx) (delivery.Outcome, error) {
		res = result{}
		return p.applyOrRecover(ctx, tx, d, &res)
	})
	var pe *panicError
	if errors.As(err, &pe) || store.Permanent(err) {
		if pe != nil {
			p.log.Error("processing panicked", "source", d.Source, "delivery", d.ID, "panic", pe.value, "stack", string(pe.stack))
		} else {
			p.log.Error("the database refused what processing wrote", "source", d.Source, "delivery", d.ID, "err", err)
		}
		failed, ferr := p.store.RecordFailure(ctx, d.Seq, boundedText(err.Error()), maxAttempts)
		if ferr != nil {
			return false, fmt.Errorf("%w (and recording it: %v)", err, ferr)
		}
		if failed {
			p.count(d.Source, delivery.StatusFailed)
			p.log.Error("delivery failed; `deliveries replay` queues it again",
				"source", d.Source, "delivery", d.ID, "err", err)
			return true, nil
		}
		return false, err
	}
	if errors.Is(err, store.ErrNotPending) {
		// Another replica processed it first; on to the next.
		return true, nil
	}
	if err != nil {
		return false, err
	}
	p.report(d, &res)
	return true, nil
}

// batchSize bounds one processing transaction: large enough to pay its
// fixed cost once for a storm, small enough that intake's commits never
// wait long behind it.
const batchSize = 32

// ProcessBatch decides up to batchSize pending deliveries, oldest first,
// in one transaction. It reports false when there was none. An error
// leaves every delivery of the batch pending (ProcessNext then takes them
// one at a time).
func (p *Processor) ProcessBatch(ctx context.Context) (bool, error) {
	type decided struct {
		d   delivery.Delivery
		res result
	}
	var batch []decided
	n, err := p.store.ProcessBatch(ctx, batchSize, func(tx *store.Tx, d delivery.Delivery) (delivery.Outcome, error) {
		batch = append(batch, decided{d: d})
		return p.applyOrRecover(ctx, tx, d, &batch[len(batch)-1].res)
	})
	if err != nil {
		return false, err
	}
	for i := range batch {
		p.report(batch[i].d, &batch[i].res)
	}
	return n > 0, nil
}

// report counts and logs what a committed delivery came to.
func (p *Processor) report(d delivery.Delivery, res *result) {
	p.count(d.Source, res.outcome.Status)
	p.metrics.ProcessingLag.WithLabelValues(string(d.Source)).Observe(p.now().Sub(d.ReceivedAt).Seconds())
	for _, rec := range res.opened {
		if rec.Kind == incident.KindDrill {
			// A drill is training, not an incident: it counts nowhere.
			p.log.Info("drill opened", "incident", rec.Ref(), "service", rec.Service, "severity", rec.Severity)
			continue
		}
		p.metrics.IncidentsOpened.WithLabelValues(rec.Service, rec.Severity).Inc()
		p.log.Info("incident opened", "incident", rec.Ref(), "service", rec.Service, "severity", rec.Severity)
	}
	for _, n := range res.notices {
		p.log.Warn(n, "source", d.Source, "delivery", d.ID)
	}
	switch res.outcome.Status {
	case delivery.StatusProcessed:
	case delivery.StatusIgnored:
		// Most of what GitHub sends, and every redelivery: the reason is
		// on the delivery (`deliveries list`) and counted, and a line
		// each would bury what needs reading.
		p.log.Debug("delivery ignored", "source", d.Source, "delivery", d.ID, "reason", res.outcome.Reason)
	default:
		p.log.Info("delivery "+string(res.outcome.Status), "source", d.Source, "delivery", d.ID, "reason", res.outcome.Reason)
	}
}

// applyOrRecover applies a delivery, turning a panic (a bug) into a
// panicError, which fails the transaction and counts as an attempt.
func (p *Processor) applyOrRecover(ctx context.Context, tx *store.Tx, d delivery.Delivery, res *result) (out delivery.Outcome, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &panicError{value: r, stack: debug.Stack()}
		}
	}()
	return p.apply(ctx, tx, d, res)
}

// panicError is a panic during processing: a bug, retried a bounded
// number of times.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("processing panicked: %v", e.value) }

func (p *Processor) count(source incident.Source, status delivery.Status) {
	p.metrics.Deliveries.WithLabelValues(string(source), string(status)).Inc()
}

// result is what a committed delivery reports after the transaction.
type result struct {
	outcome delivery.Outcome
	opened  []incident.Record
	notices []string
}

func (p *Processor) apply(ctx context.Context, tx *store.Tx, d delivery.Delivery, res *result) (delivery.Outcome, error) {
	n, ok := p.normalizers[d.Source]
	if !ok {
		return res.set(delivery.StatusIgnored, "no connector handles source "+string(d.Source)), nil
	}
	events, err := n.Normalize(d)
	switch {
	case delivery.IsIgnored(err):
		return res.set(delivery.StatusIgnored, err.Error()), nil
	case err != nil:
		return res.set(delivery.StatusUnprocessable, err.Error()), nil
	case len(events) == 0:
		return res.set(delivery.StatusIgnored, "the delivery carries no event"), nil
	}
	for i := range events {
		events[i].Clean()
	}
	var ignored []string
	applied := 0
	for _, ev := range events {
		fresh, err := tx.MarkEventSeen(ctx, ev.Source, ev.ID)
		if err != nil {
			return delivery.Outcome{}, err
		}
		if !fresh {
			ignored = append(ignored, "event "+ev.ID+" was applied before")
			continue
		}
		dec, err := p.decide(ctx, tx, ev)
		if err != nil {
			return delivery.Outcome{}, err
		}
		for _, n := range dec.Notices {
			res.notices = append(res.notices, boundedText(n))
		}
		switch {
		case dec.Defer != "":
			// Not applied after all: forget the event so that it applies
			// when the delivery is woken again.
			if err := tx.ForgetEvent(ctx, ev.Source, ev.ID); err != nil {
				return delivery.Outcome{}, err
			}
			res.outcome = delivery.Outcome{Status: delivery.StatusDeferred, Reason: dec.Defer, Subject: ev.PageID}
			return res.outcome, nil
		case dec.Ignore != "":
			ignored = append(ignored, dec.Ignore)
		default:
			if err := p.write(ctx, tx, dec); err != nil {
				return delivery.Outcome{}, err
			}
			if dec.Opened {
				res.opened = append(res.opened, *dec.Record)
			}
			applied++
		}
	}
	if applied == 0 {
		return res.set(delivery.StatusIgnored, strings.Join(ignored, "; ")), nil
	}
	return res.set(delivery.StatusProcessed, ""), nil
}

func (res *result) set(status delivery.Status, reason string) delivery.Outcome {
	res.outcome = delivery.Outcome{Status: status, Reason: boundedText(reason)}
	return res.outcome
}

// maxReasonText bounds a reason or notice, which may quote what a
// delivery carried (an unknown event name, a field's value), in the log
// and in the store.
const maxReasonText = 500

// boundedText is s as a log line or a stored reason may carry it: valid
// UTF-8, one line, at most maxReasonText runes.
func boundedText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, incident.CleanText(s))
	return escape.Truncate(s, maxReasonText)
}

// decide loads the state the router asks for and returns its decision.
func (p *Processor) decide(ctx context.Context, tx *store.Tx, ev incident.Event) (router.Decision, error) {
	q := router.QueryFor(ev, p.rules)
	if ev.Change != nil {
		dec, err := p.decideChange(ctx, tx, ev, q)
		if err != nil || !dec.Opened {
			return dec, err
		}
		// An announcement opened: the service's recent changes belong on
		// it as on any record.
		return dec, p.syncChanges(ctx, tx, nil, &dec)
	}
	st, err := p.load(ctx, tx, q)
	if err != nil {
		return router.Decision{}, err
	}
	dec := router.Decide(st, ev, p.rules, p.now())
	if dec.Record != nil {
		err = p.syncChanges(ctx, tx, loaded(st, dec.Record.ID), &dec)
	}
	return dec, err
}

// syncChanges makes the changes the decision's record holds those that
// belong on it (router.ChangesQuery): the service's changes from
// change_lookback before it opened until it resolved. A change is put on
// or taken off the records it belongs on when it is decided; a record's
// own decisions bring it its changes when it opens or its window moves
// (a storm's earlier page, a resolve, a reopen, an announcement's
// expiry, a drill's end), whatever the event. A record whose window did
// not move (most of a storm's deliveries) holds the right ones already,
// and two queries are saved.
func (p *Processor) syncChanges(ctx context.Context, tx *store.Tx, before *incident.Record, dec *router.Decision) error {
	rec := dec.Record
	if rec.Service == incident.UnmappedService || before != nil && p.sameWindow(before, rec) {
		return nil
	}
	service, from, to := router.ChangesQuery(rec, p.rules)
	changes, err := tx.ChangesOf(ctx, service, from, to)
	if err != nil {
		return err
	}
	// The decision's own change is decided in it, newer than its stored
	// version, which the decision attaches itself.
	if dec.Change != nil {
		changes = slices.DeleteFunc(changes, func(c incident.Change) bool { return c.Key == dec.Change.Key })
	}
	dec.Attach = append(dec.Attach, router.ChangesFor(rec, changes, p.rules)...)
	if rec.ID != 0 {
		attached, err := tx.AttachedChanges(ctx, rec.ID)
		if err != nil {
			return err
		}
		dec.Detach = append(dec.Detach, router.ChangesNoLongerFor(rec, attached, p.rules)...)
	}
	return nil
}

// loaded is the record with the id as the decision was given it, if it
// was.
func loaded(st router.State, id int64) *incident.Record {
	if id == 0 {
		return nil
	}
	if st.Owner != nil && st.Owner.ID == id {
		return st.Owner
	}
	for i := range st.Active {
		if st.Active[i].ID == id {
			return &st.Active[i]
		}
	}
	return nil
}

// sameWindow reports whether the same changes belong on two versions of a
// record: whether router.ChangesQuery names the same ones.
func (p *Processor) sameWindow(a, b *incident.Record) bool {
	service, from, to := router.ChangesQuery(a, p.rules)
	service2, from2, to2 := router.ChangesQuery(b, p.rules)
	return service == service2 && from.Equal(from2) && to.Equal(to2)
}

func (p *Processor) decideChange(ctx context.Context, tx *store.Tx, ev incident.Event, q router.Query) (router.Decision, error) {
	stored, err := tx.Change(ctx, q.ChangeKey)
	if err != nil {
		return router.Decision{}, err
	}
	merged, reason := router.MergeChange(stored, ev, p.rules)
	if reason != "" {
		return router.Decision{Ignore: reason}, nil
	}
	service, openedBy, resolvedFrom := router.ChangeQuery(merged, p.rules)
	recs, err := tx.RecordsOfService(ctx, service, openedBy, resolvedFrom)
	if err != nil {
		return router.Decision{}, err
	}
	var holding []incident.Record
	if stored != nil {
		if holding, err = tx.RecordsWithChange(ctx, merged.Key); err != nil {
			return router.Decision{}, err
		}
	}
	return router.Decide(router.State{Change: &merged, Records: recs, Holding: holding, Known: stored}, ev, p.rules, p.now()), nil
}

// write stores a decision: the change, the record and its entries, the
// attachments (a zero record id is the decision's own record), and the
// jobs of its actions, all in the one transaction.
func (p *Processor) write(ctx context.Context, tx *store.Tx, dec router.Decision) error {
	if dec.Change != nil {
		if err := tx.SaveChange(ctx, dec.Change); err != nil {
			return err
		}
	}
	if dec.Record != nil {
		if err := tx.SaveRecord(ctx, dec.Record, dec.Entries); err != nil {
			return err
		}
	}
	for i := range dec.FollowUps {
		if err := tx.SaveFollowUp(ctx, &dec.FollowUps[i]); err != nil {
			return err
		}
	}
	for _, key := range dec.Withdraw {
		if err := tx.WithdrawFollowUp(ctx, key); err != nil {
			return err
		}
	}
	for _, a := range dec.Attach {
		id := a.RecordID
		if id == 0 {
			id = dec.Record.ID
		}
		if err := tx.AttachChange(ctx, id, a.ChangeKey, a.Entry); err != nil {
			return err
		}
		if err := p.enqueue(ctx, tx, id, a.Actions); err != nil {
			return err
		}
	}
	for _, a := range dec.Detach {
		if err := tx.DetachChange(ctx, a.RecordID, a.ChangeKey, a.Entry.Key); err != nil {
			return err
		}
	}
	var recordID int64
	if dec.Record != nil {
		recordID = dec.Record.ID
	}
	if err := p.enqueue(ctx, tx, recordID, dec.Actions); err != nil {
		return err
	}
	// About the change, on no record: record id zero.
	return p.enqueue(ctx, tx, 0, dec.ChangeActions)
}

// enqueue inserts the jobs of acts, side effects on the record with id (or,
// with id zero, on a change), in the decision's transaction.
func (p *Processor) enqueue(ctx context.Context, tx *store.Tx, id int64, acts []incident.Action) error {
	for _, a := range acts {
		if p.actions == nil {
			about := incident.FormatRef(id)
			if id == 0 {
				about = "change " + a.Change
			}
			return fmt.Errorf("%s asks for %s but no action queue is configured", about, a.Kind)
		}
		if err := p.actions.Enqueue(ctx, tx.SQL(), id, a); err != nil {
			return err
		}
	}
	return nil
}

func (p *Processor) load(ctx context.Context, tx *store.Tx, q router.Query) (router.State, error) {
	var (
		st  router.State
		err error
	)
	if q.PageID != "" {
		if st.Owner, err = tx.RecordByPage(ctx, q.PageID); err != nil {
			return st, err
		}
	}
	if q.TicketID != "" {
		if st.FollowUp, err = tx.FollowUpByTicket(ctx, q.TicketID); err != nil {
			return st, err
		}
		if st.FollowUp != nil {
			// The ticket's record, whatever label it carries now.
			q.RecordID = st.FollowUp.IncidentID
		}
	}
	if q.FollowUpKey != "" {
		st.FollowUp, err = tx.FollowUpByKey(ctx, q.FollowUpKey)
		if errors.Is(err, store.ErrNotFound) {
			st.FollowUp, err = nil, nil // withdrawn
		}
		if err != nil {
			return st, err
		}
	}
	if q.RecordID != 0 {
		st.Owner, err = tx.RecordByID(ctx, q.RecordID)
		if errors.Is(err, store.ErrNotFound) {
			return st, nil
		}
		if err != nil {
			return st, err
		}
	}
	if st.Owner != nil && q.Changes {
		if st.Owner.Changes, err = tx.AttachedChanges(ctx, st.Owner.ID); err != nil {
			return st, err
		}
	}
	// A known ticket's event needs only its own follow-up.
	if st.Owner != nil && q.FollowUps && st.FollowUp == nil {
		if st.FollowUps, err = tx.FollowUpsOf(ctx, st.Owner.ID); err != nil {
			return st, err
		}
	}
	if st.Owner == nil && q.CorrelationKey != "" {
		if st.Active, err = tx.ActiveRecords(ctx, q.CorrelationKey, q.OpenedFrom, q.OpenedTo); err != nil {
			return st, err
		}
	}
	return st, nil
}

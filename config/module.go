package config

import "go.uber.org/fx"

// Module hands each component its own part of a loaded *Config, so that a
// connector depends on its section rather than on the whole file.
var Module = fx.Module("config", fx.Provide(split))

// Sections are the parts of the configuration that components depend on.
type Sections struct {
	fx.Out

	Listen      string `name:"listen"`
	Storage     Storage
	Intake      Intake
	API         API
	PagerDuty   PagerDuty
	GitHub      GitHub
	Jira        Jira
	Correlation Correlation
	Review      Review
	Awareness   Awareness
	Jobs        Jobs
	Processing  Processing
	Retention   Retention
	Severities  []Severity
	Services    []Service
	People      People
	Drills      Drills
}

func split(c *Config) Sections {
	return Sections{
		Listen:      c.Listen,
		Storage:     c.Storage,
		Intake:      c.Intake,
		API:         c.API,
		PagerDuty:   c.PagerDuty,
		GitHub:      c.GitHub,
		Jira:        c.Jira,
		Correlation: c.Correlation,
		Review:      c.Review,
		Awareness:   c.Awareness,
		Jobs:        c.Jobs,
		Processing:  c.Processing,
		Retention:   c.Retention,
		Severities:  c.Severities,
		Services:    c.Services,
		People:      c.People,
		Drills:      c.Drills,
	}
}

"""One module per group of `marquee` commands; each defines `register(cli: app.cli.Cli)`."""

from sentrail.cli import app

app(prog_name="sentrail")

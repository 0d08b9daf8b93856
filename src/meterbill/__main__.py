from meterbill.cli import app

app(prog_name="meterbill")

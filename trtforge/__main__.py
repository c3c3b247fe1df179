from trtforge.cli import run

run()

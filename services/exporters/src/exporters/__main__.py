from tasdir.process import main

from exporters.bootstrap import definition

main(definition)

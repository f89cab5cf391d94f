from tasdir.runtime import main

from exporters.bootstrap import definition

main(definition)

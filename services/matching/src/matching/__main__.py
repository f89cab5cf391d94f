from tasdir.process import main

from matching.bootstrap import definition

main(definition)

from tasdir.runtime import main

from matching.bootstrap import definition

main(definition)

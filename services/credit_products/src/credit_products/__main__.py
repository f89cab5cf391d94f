from tasdir.runtime import main

from credit_products.bootstrap import definition

main(definition)

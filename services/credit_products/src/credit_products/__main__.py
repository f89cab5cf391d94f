from tasdir.process import main

from credit_products.bootstrap import definition

main(definition)

"""whoknows: route unanswered questions to the colleagues who can answer them."""

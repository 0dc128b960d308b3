"""The workspace tab's pages: what is waiting for each person, the register, and the keepers' tools.

Who may see what is the chat's rules, from the one table (`dialogs.permissions`) judged on facts
read from the register (`storage.case_facts`); a refusal is recorded like a card's. Queues name
incidents by reference, category and service, never the customer, so they are not views; every
page that shows a customer (the register's results, a record, an incident) is an audit event.
"""

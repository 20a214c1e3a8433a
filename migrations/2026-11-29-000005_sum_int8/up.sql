-- A sum of BIGINT that stays BIGINT (the built-in sum(bigint) returns NUMERIC) and is 0, not NULL,
-- over no rows. It lets the service's queries say sum in its query builder instead of a raw SQL
-- fragment, and queries without raw fragments are prepared once per connection and reused.
CREATE AGGREGATE sum_int8(BIGINT) (
    SFUNC = int8pl,
    STYPE = BIGINT,
    INITCOND = '0',
    COMBINEFUNC = int8pl,
    PARALLEL = SAFE
);

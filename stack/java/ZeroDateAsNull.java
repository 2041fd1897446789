package local.mysqlpgsync;

import io.debezium.spi.converter.CustomConverter;
import io.debezium.spi.converter.RelationalColumn;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.HashSet;
import java.util.Locale;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.connect.data.SchemaBuilder;

/**
 * Sends MySQL's zero date ('0000-00-00', '0000-00-00 00:00:00') in a NOT NULL DATE or DATETIME
 * column as null instead of the epoch.
 *
 * <p>Debezium sends a zero date in a NOT NULL column as the epoch, the same value as a real
 * 1970-01-01. The sync read that epoch as the zero date, so a real 1970-01-01 reached PostgreSQL
 * as NULL, and a later PostgreSQL change of the row wrote MySQL's zero date over it. With this
 * converter the field is optional, a zero date is null and a real epoch stays the epoch.
 *
 * <p>The values keep Debezium's encodings under time.precision.mode=adaptive_time_microseconds:
 * io.debezium.time.Date (days), io.debezium.time.Timestamp (ms, DATETIME(0-3)) and
 * io.debezium.time.MicroTimestamp (us, DATETIME(4-6)), at UTC as Debezium reads DATETIME.
 * Config: {@code columns}, a comma-separated list of db.table.column (case-insensitive); other
 * columns keep Debezium's own conversion. A raw value of a type it does not know is an error:
 * with event.converting.failure.handling.mode=fail the task stops and says so, where a guess
 * would change data silently.
 *
 * <p>A partial zero date ('2020-00-15') cannot be told apart here: Debezium 3.5 turns any date
 * with a zero year, month or day into null before a converter runs (binlog and snapshot alike),
 * so it comes as the zero date's null. The consumer looks such nulls up in MySQL and makes a
 * partial zero date a dead letter (plugins/mysql_pg_sync/cdc/partial_zero_dates.py).
 */
public class ZeroDateAsNull implements CustomConverter<SchemaBuilder, RelationalColumn> {

    private static final DateTimeFormatter DATETIME_TEXT =
            new DateTimeFormatterBuilder()
                    .appendPattern("yyyy-MM-dd HH:mm:ss")
                    .optionalStart()
                    .appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true)
                    .optionalEnd()
                    .toFormatter(Locale.ROOT);

    private final Set<String> columns = new HashSet<>();

    @Override
    public void configure(Properties props) {
        for (String name : props.getProperty("columns", "").split(",")) {
            if (!name.isBlank()) {
                columns.add(name.trim().toLowerCase(Locale.ROOT));
            }
        }
    }

    @Override
    public void converterFor(RelationalColumn column, ConverterRegistration<SchemaBuilder> registration) {
        String id = (column.dataCollection() + "." + column.name()).toLowerCase(Locale.ROOT);
        if (!columns.contains(id)) {
            return;
        }
        String type = column.typeName().toUpperCase(Locale.ROOT);
        if (type.equals("DATE")) {
            registration.register(
                    SchemaBuilder.int32().name("io.debezium.time.Date").version(1).optional(),
                    raw -> epochDay(id, raw));
        } else if (type.equals("DATETIME")) {
            boolean micros = column.length().orElse(0) > 3;
            String name = micros ? "io.debezium.time.MicroTimestamp" : "io.debezium.time.Timestamp";
            registration.register(
                    SchemaBuilder.int64().name(name).version(1).optional(),
                    raw -> epochTime(id, raw, micros));
        }
    }

    private static Object epochDay(String id, Object raw) {
        if (raw == null) {
            return null; // the zero date (or a NULL the column cannot hold)
        }
        if (raw instanceof LocalDate) {
            return (int) ((LocalDate) raw).toEpochDay();
        }
        if (raw instanceof java.sql.Date) {
            return (int) ((java.sql.Date) raw).toLocalDate().toEpochDay();
        }
        if (raw instanceof String) {
            String text = (String) raw;
            return isZero(text) ? null : (int) LocalDate.parse(text.substring(0, 10)).toEpochDay();
        }
        if (raw instanceof Number) {
            return null; // the column's DEFAULT, see defaultFor
        }
        throw unknown(id, raw);
    }

    private static Object epochTime(String id, Object raw, boolean micros) {
        LocalDateTime value;
        if (raw == null) {
            return null;
        } else if (raw instanceof LocalDateTime) {
            value = (LocalDateTime) raw;
        } else if (raw instanceof java.sql.Timestamp) {
            value = ((java.sql.Timestamp) raw).toLocalDateTime();
        } else if (raw instanceof String) {
            String text = (String) raw;
            if (isZero(text)) {
                return null;
            }
            value = LocalDateTime.parse(text, DATETIME_TEXT);
        } else if (raw instanceof Number) {
            return null; // the column's DEFAULT, see defaultFor
        } else {
            throw unknown(id, raw);
        }
        long seconds = value.toEpochSecond(ZoneOffset.UTC);
        long nanos = value.getNano();
        return micros ? seconds * 1_000_000L + nanos / 1_000L : seconds * 1_000L + nanos / 1_000_000L;
    }

    /*
     * defaultFor: Debezium passes each column's DEFAULT through the converter once, already
     * encoded (its epoch for a zero-date default), to put it in the schema. Rows never come as
     * numbers. The schema gets no default: a converter that fills a null from the schema default
     * (JsonConverter's replace.null.with.default) would turn the zero date back into the epoch.
     */

    /** '0000-00-00...' and partial zeros such as '2020-00-15': what MySQL calls zero dates. */
    private static boolean isZero(String text) {
        return text.startsWith("0000") || text.startsWith("-00", 4) || text.startsWith("-00", 7);
    }

    private static IllegalArgumentException unknown(String id, Object raw) {
        return new IllegalArgumentException(
                "ZeroDateAsNull: column " + id + ": raw value of type " + raw.getClass().getName()
                        + " is not one it converts; remove the column from the converter's list");
    }
}

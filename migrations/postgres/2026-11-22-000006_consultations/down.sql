DROP TABLE consult_intervals;
DROP TABLE booking_slots;
DROP TABLE bookings;
DROP TABLE payment_holds;
